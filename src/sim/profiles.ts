// Profiles: the SDM model (`spec`) and named real implementations, each a set of quirks with its evidence.

import { NO_QUIRKS, type Quirks } from '../arch/quirks.js';

export interface Deviation {
  quirk: keyof Quirks;
  /** What the implementation does, in one line. */
  behaviour: string;
  /** Where that is shown: commit, file and function, or mailing-list thread. */
  evidence: string;
}

export interface Profile {
  name: string;
  description: string;
  quirks: Quirks;
  deviations: Deviation[];
}

function profile(name: string, description: string, deviations: Deviation[]): Profile {
  const quirks: Quirks = { ...NO_QUIRKS };
  for (const d of deviations) quirks[d.quirk] = true;
  return { name, description, quirks, deviations };
}

export const DEFAULT_PROFILE: Profile = profile('spec', 'The architecture as the Intel SDM and AMD APM define it, for the configured vendor.', []);

export const PROFILES: readonly Profile[] = [DEFAULT_PROFILE];

export function findProfile(name: string): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}
