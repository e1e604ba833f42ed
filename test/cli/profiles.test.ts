// Profiles as data (--profile-file, schemas/profile.schema.json) and `lapis profiles --diff / --quirks`.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_QUIRKS } from '../../src/arch/quirks.js';
import { PROFILES, findProfile } from '../../src/sim/profiles.js';
import { QUIRK_NAMES, deriveProfile, diffProfiles, quirkValues } from '../../src/sim/profile-data.js';
import { lapis, jsonOut } from '../helpers/lapis.js';


function withFile<T>(doc: unknown, body: (file: string, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'lapis-profile-'));
  try {
    const file = join(dir, 'mine.json');
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return body(file, dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

const PATCHED = {
  schema: 'lapis-profile/1', name: 'my-kvm', description: 'KVM of 2024 with the SIPI-in-SMM patch, and no vector-hash', base: 'kvm-2024',
  deviations: [
    { quirk: 'sipiLatchedInSmm', behaviour: 'a SIPI in SMM stays pending', evidence: 'my tree, commit 1234' },
    { quirk: 'lowestPriority', value: 'architectural', behaviour: 'lowest priority by TPR', evidence: 'my tree, lapic.c' },
  ],
};

describe('profile data', () => {
  it('every quirk has its values listed, the architecture first; every named profile uses listed values', () => {
    for (const q of QUIRK_NAMES) expect(quirkValues(q)[0]).toBe(NO_QUIRKS[q]);
    for (const p of PROFILES) for (const d of p.deviations) expect(quirkValues(d.quirk)).toContain(d.value ?? true);
  });

  it('a named profile derived with no changes is itself; a change replaces, the architectural value removes', () => {
    for (const p of PROFILES) expect(deriveProfile(p, p.name, p.description, []).quirks).toEqual(p.quirks);
    const kvm = findProfile('kvm-2024')!;
    const d = deriveProfile(kvm, 'x', 'x', [
      { quirk: 'lowestPriority', value: 'architectural', behaviour: 'b', evidence: 'e' },
      { quirk: 'sipiLatchedInSmm', behaviour: 'b', evidence: 'e' },
    ]);
    expect(diffProfiles(kvm, d).map((x) => [x.what, x.a, x.b])).toEqual([['quirks.lowestPriority', 'vector-hash', 'architectural'], ['quirks.sipiLatchedInSmm', 'false', 'true']]);
    expect(d.deviations.some((x) => x.quirk === 'lowestPriority')).toBe(false);
  });
});

describe('--profile-file', () => {
  it('runs a test under the file profile, as the named profile with the same quirks answers it', () => {
    withFile(PATCHED, (file) => {
      const mine = jsonOut(lapis('run', 'seed-000-sipi-during-smm', '--profile-file', file, '--json'));
      const patch = jsonOut(lapis('run', 'seed-000-sipi-during-smm', '--profile', 'kvm-2024-sipi-patch', '--json'));
      expect(mine.profile).toBe('my-kvm');
      expect(mine.result).toBe('No');
      expect(mine.outcomes).toEqual(patch.outcomes);
      // --profile still chooses a named one.
      expect(jsonOut(lapis('run', 'seed-000-sipi-during-smm', '--profile-file', file, '--profile', 'spec', '--json')).profile).toBe('spec');
    });
  });

  it('suite knows the file profile by its name in expected.json', () => {
    withFile(PATCHED, (file, dir) => {
      copyFileSync('litmus/seed-000-sipi-during-smm.litmus', join(dir, 'a.litmus'));
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { spec: 'Ok', 'my-kvm': 'No' } }));
      const r = lapis('suite', dir, '--profile-file', file);
      expect(r.out).toMatch(/SIPI-during-SMM\s+my-kvm\s+No\s+No/);
      expect(r.code).toBe(0);
      expect(lapis('suite', dir).err).toMatch(/^lapis: unknown profile 'my-kvm'/);
    });
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{ "schema": ', /mine\.json: .*JSON/],
    ['a missing field', { ...PATCHED, deviations: [{ quirk: 'sipiLatchedInSmm', behaviour: 'b' }] }, /mine\.json: \/deviations\/0: is missing the required property "evidence"/],
    ['an unknown field', { ...PATCHED, quirks: {} }, /mine\.json: \/quirks: is not an allowed property/],
    ['the wrong schema', { ...PATCHED, schema: 'lapis-profile/2' }, /mine\.json: \/schema: must be "lapis-profile\/1", not "lapis-profile\/2"/],
    ['an unknown quirk', { ...PATCHED, deviations: [{ quirk: 'sipiEverywhere', behaviour: 'b', evidence: 'e' }] }, /mine\.json: \/deviations\/0\/quirk: unknown quirk 'sipiEverywhere'; quirks: softDisabledIrr, /],
    ['a value the quirk does not take', { ...PATCHED, deviations: [{ quirk: 'lowestPriority', value: 'random', behaviour: 'b', evidence: 'e' }] }, /\/deviations\/0\/value: quirk lowestPriority takes "architectural" or "vector-hash" or "lowest-index", not "random"/],
    ['a quirk twice', { ...PATCHED, deviations: [PATCHED.deviations[0], PATCHED.deviations[0]] }, /\/deviations\/1\/quirk: quirk 'sipiLatchedInSmm' appears twice/],
    ['an unknown base', { ...PATCHED, base: 'kvm-1999' }, /mine\.json: \/base: unknown profile 'kvm-1999'/],
    ['a named profile\'s name', { ...PATCHED, name: 'kvm-2024' }, /mine\.json: \/name: 'kvm-2024' is a named profile's name/],
  ];
  it.each(bad)('refuses %s with the place and a clear message (exit 2)', (_, doc, message) => {
    withFile(doc, (file) => {
      const r = lapis('run', 'seed-000-sipi-during-smm', '--profile-file', file);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  });
});

describe('lapis profiles', () => {
  it('--diff A B names each quirk that differs, with each side\'s behaviour; a file works as A or B', () => {
    const r = lapis('profiles', '--diff', 'kvm-2019', 'kvm-2024');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kvm-2019 -> kvm-2024: \d+ differences$/m);
    expect(r.out).toMatch(/^ {2}quirks\.softDisabledIrr: hidden -> normal$/m);
    expect(r.out).toMatch(/^ {6}kvm-2019: a software-disabled APIC presents nothing from IRR/m);
    expect(lapis('profiles', '--diff', 'spec', 'spec').out.trim()).toBe('spec -> spec: no differences');
    withFile(PATCHED, (file) => {
      const f = lapis('profiles', '--diff', 'kvm-2024', file);
      expect(f.out).toContain('kvm-2024 -> my-kvm: 2 differences');
      expect(f.out).toMatch(/quirks\.sipiLatchedInSmm: false -> true\n {6}my-kvm: a SIPI in SMM stays pending/);
    });
    expect(lapis('profiles', '--diff', 'spec').code).toBe(2);
  });

  it('--quirks lists every quirk with its values and the profiles that set it', () => {
    const r = lapis('profiles', '--quirks');
    expect(r.out.trim().split('\n')).toHaveLength(QUIRK_NAMES.length);
    expect(r.out).toMatch(/^lowestPriority +architectural \| vector-hash \| lowest-index +kvm-2019, /m);
  });
});

describe('lapis fingerprint', () => {
  it('ranks the profiles against a report, names the best quirk set and what no quirk explains', () => {
    const r = lapis('fingerprint', 'conformance/results/bochs.json');
    expect(r.out).toMatch(/^bochs \(.*\): \d+ tests run, \d+ distinct outcomes observed$/m);
    expect(r.out).toMatch(/^profile +tests unexplained +outcomes explained +unexplained +undecided +deviations\nbochs-2\.7 /m);
    expect(r.out).toMatch(/^Best: bochs-2\.7/m);
    expect(r.code).toBe(r.out.includes('Every observed outcome is explained.') ? 0 : 1);
  }, 120_000);

  it('a report that cannot be read is a usage error', () => {
    expect(lapis('fingerprint', 'no-such.json')).toMatchObject({ code: 2, err: 'lapis: no-such.json: no such file\n' });
    withFile({ schema: 'lapis-suite/9' }, (file) => {
      const r = lapis('fingerprint', file);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^lapis: .*mine\.json/);
    });
  });
});
