// A profile as data (`lapis --profile-file`, schemas/profile.schema.json, docs/profiles.md "Your own profile"): a
// base profile and the quirks where an implementation differs from it, each with its behaviour and evidence. Also
// the catalogue of quirks and their values, a profile with some quirks changed, and the difference of two profiles.
// No I/O: the caller reads the file.

import { NO_QUIRKS, type ApicMmioInSmm, type AvicIncompleteIpiHandler, type GlobalDisableRule, type LowestPriorityRule, type ReservedTimerModeRule, type Quirks, type SoftDisabledIrr } from '../arch/quirks.js';
import { DEFAULT_PROFILE, PROFILES, findProfile, type Deviation, type Profile } from './profiles.js';

export const PROFILE_SCHEMA = 'lapis-profile/1';

export type QuirkName = keyof Quirks;
export type QuirkValue = Quirks[QuirkName];

const LOWEST_PRIORITY: readonly LowestPriorityRule[] = ['architectural', 'vector-hash', 'lowest-index'];
const SOFT_DISABLED_IRR: readonly SoftDisabledIrr[] = ['spurious', 'hidden', 'normal'];
const APIC_MMIO_IN_SMM: readonly ApicMmioInSmm[] = ['apic', 'ram'];
const AVIC_INCOMPLETE_IPI_HANDLER: readonly AvicIncompleteIpiHandler[] = ['wake', 'wake-stale-irr', 'resend', 'resend-kick'];
const GLOBAL_DISABLE: readonly GlobalDisableRule[] = ['power-up', 'keep', 'clear-svr-enable'];
const RESERVED_TIMER_MODE: readonly ReservedTimerModeRule[] = ['keep-old', 'periodic', 'tsc-deadline'];

/** Every quirk, in src/arch/quirks.ts order. */
export const QUIRK_NAMES = Object.keys(NO_QUIRKS) as QuirkName[];

/** The values a quirk takes; the first is the architecture's (NO_QUIRKS). */
export function quirkValues(q: QuirkName): readonly QuirkValue[] {
  if (q === 'lowestPriority') return LOWEST_PRIORITY;
  if (q === 'softDisabledIrr') return SOFT_DISABLED_IRR;
  if (q === 'apicMmioInSmm') return APIC_MMIO_IN_SMM;
  if (q === 'avicIncompleteIpiHandler') return AVIC_INCOMPLETE_IPI_HANDLER;
  if (q === 'globalDisable') return GLOBAL_DISABLE;
  if (q === 'reservedTimerMode') return RESERVED_TIMER_MODE;
  if (typeof NO_QUIRKS[q] !== 'boolean') throw new Error(`quirk ${q}: its values are not listed in profile-data.ts`);
  return [false, true];
}

export function isQuirk(name: string): name is QuirkName {
  return (QUIRK_NAMES as string[]).includes(name);
}

/** A profile from deviations over `base`: a quirk the base also sets is replaced; the architecture's value drops it. */
export function deriveProfile(base: Profile, name: string, description: string, changes: Deviation[], settings: Profile['settings'] = {}): Profile {
  const changed = new Set(changes.map((d) => d.quirk));
  const deviations = [
    ...base.deviations.filter((d) => !changed.has(d.quirk)),
    ...changes.filter((d) => (d.value ?? true) !== NO_QUIRKS[d.quirk]),
  ];
  const quirks: Record<string, unknown> = { ...NO_QUIRKS };
  for (const d of deviations) quirks[d.quirk] = d.value ?? true;
  return { name, description, quirks: quirks as unknown as Quirks, settings: { ...base.settings, ...settings }, deviations };
}

export class ProfileDataError extends Error {}

type Obj = Record<string, unknown>;

/**
 * A profile file's document (already checked against schemas/profile.schema.json) as a Profile: the base must be a
 * named profile, each quirk known and its value one it takes, no quirk twice, and the name not a named profile's.
 * Throws ProfileDataError naming `source` and the JSON Pointer of the value.
 */
export function profileFromData(doc: Obj, source: string): Profile {
  const fail = (path: string, msg: string): never => {
    throw new ProfileDataError(`${source}: ${path}: ${msg}`);
  };
  const name = doc.name as string;
  if (findProfile(name)) fail('/name', `'${name}' is a named profile's name: choose another`);
  const baseName = (doc.base as string | undefined) ?? DEFAULT_PROFILE.name;
  const base = findProfile(baseName) ?? fail('/base', `unknown profile '${baseName}'; profiles: ${PROFILES.map((p) => p.name).join(', ')}`);
  const seen = new Set<string>();
  const changes = ((doc.deviations ?? []) as Obj[]).map((d, i): Deviation => {
    const q = d.quirk as string;
    if (!isQuirk(q)) return fail(`/deviations/${i}/quirk`, `unknown quirk '${q}'; quirks: ${QUIRK_NAMES.join(', ')}`);
    if (seen.has(q)) fail(`/deviations/${i}/quirk`, `quirk '${q}' appears twice`);
    seen.add(q);
    const value = (d.value ?? true) as QuirkValue;
    const values = quirkValues(q);
    if (!values.includes(value)) fail(`/deviations/${i}/value`, `quirk ${q} takes ${values.map((v) => JSON.stringify(v)).join(' or ')}, not ${JSON.stringify(value)}`);
    return { quirk: q, value, behaviour: d.behaviour as string, evidence: d.evidence as string };
  });
  return deriveProfile(base, name, (doc.description as string | undefined) ?? `${name} (over ${base.name})`, changes, (doc.settings ?? {}) as Profile['settings']);
}

export interface ProfileDifference {
  /** `quirks.NAME` or `settings.NAME`. */
  what: string;
  a: string;
  b: string;
  /** The deviation's behaviour in each profile, when it has one there. */
  aBehaviour: string | null;
  bBehaviour: string | null;
}

/** Where two profiles differ: quirk values and settings. */
export function diffProfiles(a: Profile, b: Profile): ProfileDifference[] {
  const out: ProfileDifference[] = [];
  const behaviour = (p: Profile, q: string) => p.deviations.find((d) => d.quirk === q)?.behaviour ?? null;
  for (const q of QUIRK_NAMES) {
    if (a.quirks[q] === b.quirks[q]) continue;
    out.push({ what: `quirks.${q}`, a: String(a.quirks[q]), b: String(b.quirks[q]), aBehaviour: behaviour(a, q), bBehaviour: behaviour(b, q) });
  }
  for (const k of ['x2apic', 'tscDeadline'] as const) {
    const av = a.settings[k] === false ? 'absent' : 'as the test configures';
    const bv = b.settings[k] === false ? 'absent' : 'as the test configures';
    if (av !== bv) out.push({ what: `settings.${k}`, a: av, b: bv, aBehaviour: null, bBehaviour: null });
  }
  return out;
}
