// A profile's shape and the architecture's own profile (`spec`). Kept apart from the named implementations
// (profiles.ts, with their evidence text) so that what only runs the model (the simulator, a browser worker handed a
// profile as data) carries no documentation.

import { NO_QUIRKS, type Quirks } from '../arch/quirks.js';

export interface Deviation {
  quirk: keyof Quirks;
  value?: Quirks[keyof Quirks];
  /** What the implementation does, in one line. */
  behaviour: string;
  /** Where that is shown: commit, file and function, or mailing-list thread. */
  evidence: string;
}

export interface Profile {
  name: string;
  description: string;
  quirks: Quirks;
  /** CPUID features the implementation does not offer, whatever the test's config says. */
  settings: { x2apic?: boolean; tscDeadline?: boolean };
  deviations: Deviation[];
}

export function profile(name: string, description: string, deviations: Deviation[], settings: Profile['settings'] = {}): Profile {
  const quirks: Record<string, unknown> = { ...NO_QUIRKS };
  for (const d of deviations) quirks[d.quirk] = d.value ?? true;
  return { name, description, quirks: quirks as unknown as Quirks, settings, deviations };
}

export const DEFAULT_PROFILE: Profile = profile('spec', 'The architecture as the Intel SDM and AMD APM define it, for the configured vendor.', []);
