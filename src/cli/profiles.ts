// Profiles on the command line: --profile NAME, --profile-file FILE (a profile as data, schemas/profile.schema.json),
// `lapis profiles` with --diff A B and --quirks.
import { existsSync, readFileSync } from 'node:fs';
import { PROFILES, findProfile, type Profile } from '../sim/profiles.js';
import { PROFILE_SCHEMA, ProfileDataError, QUIRK_NAMES, diffProfiles, profileFromData, quirkValues } from '../sim/profile-data.js';
import { formatSchemaErrors, validate, type Schema } from './schema.js';
import { packageJson } from './package.js';
import { UsageError } from './errors.js';

export { PROFILE_SCHEMA };

/** A profile file, validated: its schema, then its quirks, values and base. UsageError naming the value if not. */
export function loadProfileFile(file: string): Profile {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a profile file' : (e as Error).message}`);
  }
  const errors = formatSchemaErrors(file, validate(doc, packageJson<Schema>('schemas/profile.schema.json')));
  if (errors.length > 0) throw new UsageError(errors.join('\n'));
  try {
    return profileFromData(doc as Record<string, unknown>, file);
  } catch (e) {
    if (e instanceof ProfileDataError) throw new UsageError(e.message);
    throw e;
  }
}

/** The profiles a command knows: the named ones and the --profile-file one. */
export class ProfileSet {
  readonly extra: Profile | null;

  constructor(profileFile: string | undefined) {
    this.extra = profileFile !== undefined ? loadProfileFile(profileFile) : null;
  }

  /** By name; UsageError for one nobody defines. */
  get(name: string): Profile {
    const p = this.extra?.name === name ? this.extra : findProfile(name);
    if (!p) throw new UsageError(`unknown profile '${name}'; profiles: ${[...PROFILES, ...(this.extra ? [this.extra] : [])].map((x) => x.name).join(', ')}`);
    return p;
  }

  /** --profile when given, else the --profile-file one, else spec. */
  chosen(name: string | undefined): Profile {
    return name !== undefined ? this.get(name) : (this.extra ?? this.get('spec'));
  }
}

/** A profile named on `profiles --diff`: a name, or a profile file. */
function profileArg(arg: string): Profile {
  if (findProfile(arg)) return findProfile(arg)!;
  if (arg.endsWith('.json') || existsSync(arg)) return loadProfileFile(arg);
  return new ProfileSet(undefined).get(arg);
}

export function formatProfile(p: Profile): string[] {
  const lines = [`${p.name}: ${p.description}`];
  for (const d of p.deviations) lines.push(`  - ${d.quirk}${d.value !== undefined && d.value !== true ? ` = ${String(d.value)}` : ''}: ${d.behaviour}`, `      evidence: ${d.evidence}`);
  if (p.settings.x2apic === false) lines.push('  - no x2APIC (CPUID)');
  if (p.settings.tscDeadline === false) lines.push('  - no TSC-deadline timer (CPUID)');
  if (p.deviations.length === 0) lines.push('  (no deviations)');
  return lines;
}

/** `lapis profiles --diff A B`: where B differs from A, quirk by quirk, with each side's behaviour. */
export function diffLines(aArg: string, bArg: string): string[] {
  const a = profileArg(aArg), b = profileArg(bArg);
  const diffs = diffProfiles(a, b);
  const lines = [`${a.name} -> ${b.name}: ${diffs.length === 0 ? 'no differences' : `${diffs.length} difference${diffs.length === 1 ? '' : 's'}`}`];
  for (const d of diffs) {
    lines.push(`  ${d.what}: ${d.a} -> ${d.b}`);
    if (d.aBehaviour) lines.push(`      ${a.name}: ${d.aBehaviour}`);
    if (d.bBehaviour) lines.push(`      ${b.name}: ${d.bBehaviour}`);
  }
  return lines;
}

/** `lapis profiles --quirks`: every quirk, its values (the architecture's first) and the named profiles that set it. */
export function quirkLines(): string[] {
  return QUIRK_NAMES.map((q) => {
    const users = PROFILES.filter((p) => p.deviations.some((d) => d.quirk === q)).map((p) => p.name);
    return `${q.padEnd(32)} ${quirkValues(q).map(String).join(' | ').padEnd(40)} ${users.length > 0 ? users.join(', ') : '-'}`;
  });
}
