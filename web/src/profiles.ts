// The profile table, on the page's side: the picker's list, and each profile as the data the worker runs it with.
import { PROFILES, findProfile } from '../../src/sim/profiles.js';
import type { ProfileData, ProfileInfo } from './types.js';

export function profileInfos(): ProfileInfo[] {
  return PROFILES.map((p) => ({ name: p.name, description: p.description }));
}

export function profileData(name: string): ProfileData {
  const p = findProfile(name);
  if (!p) throw new Error(`unknown profile '${name}'`);
  return { name: p.name, description: p.description, quirks: p.quirks, settings: p.settings };
}
