// lapis suite --on --runs/--jobs/--json, lapis seeds --on and lapis conformance (docs/conformance.md, "Conformance
// runs"). Real runs on qemu-tcg and bochs with few runs (CI has both: nothing here skips); the generator from
// fixture reports.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SuiteJson, TestJson } from '../../src/backends/report.js';
import { lapis } from '../helpers/lapis.js';
import { PROFILES } from '../../src/sim/profiles.js';

/** Longer than any boot's start-up and run limits: vitest never gives up on a suite in progress. Counts are asserted
 *  on the judged runs (`completed`); a run that reached the guest's per-run limit on a loaded host is `timedOut`,
 *  not judged. */
const TEST_MS = 600_000;


const work = mkdtempSync(join(tmpdir(), 'lapis-conformance-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function suiteDir(files: string[]): string {
  const dir = mkdtempSync(join(work, 'suite-'));
  for (const f of files) copyFileSync(join('litmus', f), join(dir, f));
  return dir;
}

function readReport(file: string): SuiteJson {
  return JSON.parse(readFileSync(file, 'utf8')) as SuiteJson;
}

function byFile(r: SuiteJson, file: string): TestJson {
  const t = r.tests.find((x) => x.file === file);
  if (!t) throw new Error(`${file} not in the report`);
  return t;
}

describe('suite --on --runs --jobs --json', () => {
  it('qemu-tcg: every test in the report with the schema fields; exit 1 on FORBIDDEN', () => {
    const dir = suiteDir(['self-ipi-once.litmus', 'decision-d15-bsp-init-halts.litmus', 'tpr-holds-until-lowered.litmus']);
    writeFileSync(join(dir, 'broken.litmus'), 'lapis broken\nP0 {\n  apic write SVRR = 0x1ff\n}\nexists (P0.done = 1)\n');
    const json = join(work, 'qemu-tcg.json');
    const r = lapis('suite', dir, '--on', 'qemu-tcg', '--runs', '4', '--json', json);
    // A parse error wins over FORBIDDEN: exit 2, and the report still has every test.
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).toMatch(/^self-ipi-once\.litmus +ok +\d runs/m);
    const j = readReport(json);
    expect(j.schema).toBe('lapis-suite/1');
    expect(j.kind).toBe('suite');
    expect(j.backend.name).toBe('qemu-tcg');
    expect(j.backend.version).toMatch(/^QEMU emulator version 7\.2/);
    expect(j.runsPerTest).toBe(4);
    expect(j.jobs).toBe(1);
    expect(j.profile).toBe('spec');
    expect(j.host.cpus).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(j.started))).toBe(false);
    expect(j.tests.map((t) => t.file)).toEqual(['broken.litmus', 'decision-d15-bsp-init-halts.litmus', 'self-ipi-once.litmus', 'tpr-holds-until-lowered.litmus']);
    expect(byFile(j, 'broken.litmus')).toMatchObject({ status: 'parse-error', name: null, verdict: null });
    expect(byFile(j, 'broken.litmus').reason).toMatch(/SVR/);
    const refused = byFile(j, 'decision-d15-bsp-init-halts.litmus');
    expect(refused.status).toBe('refused');
    expect(refused.refusal).toMatchObject({ construct: 'P1: send init -> P0', byBackend: false, category: 'bsp-init' });
    expect(refused.runs).toBe(0);
    const ok = byFile(j, 'self-ipi-once.litmus');
    expect(ok).toMatchObject({ status: 'ran', name: 'self-IPI-once', runs: 4, hung: 0, crashed: 0, forbidden: 0, verdict: 'allowed', ok: true });
    // A run past the guest's per-run limit or a ping not answered in time (a loaded host) is not judged.
    expect(ok.completed + ok.timedOut + ok.unreadable).toBe(4);
    expect(ok.observation).toBe(ok.completed > 0 ? 'Always' : 'Never');
    expect(ok.outcomes).toEqual([{ key: 'P0.count(0x40)=1; P0.irr(0x40)=0; P0.isr(0x40)=0', count: ok.completed, satisfies: true, verdict: 'allowed', allowedBy: [] }]);
    expect(ok.model).toMatchObject({ profile: 'spec', complete: true, ok: true, error: null, allowed: 1, notObserved: [] });
    expect(ok.boots).toBeGreaterThan(0);
    const bad = byFile(j, 'tpr-holds-until-lowered.litmus');
    expect(bad).toMatchObject({ status: 'ran', verdict: 'FORBIDDEN', runs: 4 });
    expect(bad.forbidden).toBe(bad.completed);
    expect(bad.outcomes[0]).toMatchObject({ key: 'P0:r2=0; P0:r3=0; P0.count(0x45)=1; P0.irr(0x45)=0', verdict: 'FORBIDDEN' });
    expect(bad.outcomes[0].allowedBy).toEqual(PROFILES.filter((p) => p.quirks.tprWriteTakesEffectLate).map((p) => p.name).sort()); // the JSON report sorts them
    expect(bad.model?.notObserved).toEqual(['P0:r2=0; P0:r3=1; P0.count(0x45)=1; P0.irr(0x45)=0']);
  }, TEST_MS);

  it('bochs: --runs and --jobs reach the runs; exit 0 when nothing is FORBIDDEN', () => {
    const dir = suiteDir(['self-ipi-once.litmus', 'x2apic-self-ipi-once.litmus']);
    const json = join(work, 'bochs.json');
    const r = lapis('suite', dir, '--on', 'bochs', '--runs', '3', '--jobs', '2', '--json', json);
    expect(r.code, r.out + r.err).toBe(0);
    const j = readReport(json);
    expect(j.backend.version).toMatch(/^Bochs x86 Emulator 2\.7/);
    expect(j.jobs).toBe(2);
    // Bochs's guest time is its instruction count: the host's load does not reach its runs.
    expect(j.tests.map((t) => [t.file, t.status, t.completed])).toEqual([['self-ipi-once.litmus', 'ran', 3], ['x2apic-self-ipi-once.litmus', 'ran', 3]]);
    // Two jobs split three runs over at least two boots.
    expect(byFile(j, 'self-ipi-once.litmus').boots).toBeGreaterThanOrEqual(2);
  }, TEST_MS);

  it('--runs, --jobs and --json need --on; a backend refusal is recorded as one', () => {
    const r = lapis('suite', 'litmus', '--runs', '3');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--runs only with --on BACKEND/);
    const dir = suiteDir(['x2apic-self-ipi-once.litmus']);
    const json = join(work, 'refused.json');
    expect(lapis('suite', dir, '--on', 'qemu-tcg', '--runs', '2', '--json', json).code).toBe(0);
    expect(byFile(readReport(json), 'x2apic-self-ipi-once.litmus').refusal).toMatchObject({ byBackend: true, category: 'x2apic-backend' });
  }, TEST_MS);
});

describe('seeds --on', () => {
  it('runs each seed that compiles (judged like run --on) and says why the others are refused', () => {
    const json = join(work, 'seeds.json');
    const r = lapis('seeds', '--on', 'qemu-tcg', '--runs', '3', '--json', json);
    expect([0, 1], r.err).toContain(r.code);
    expect(r.out).toMatch(/^Test SIPI-during-SMM Allowed on qemu-tcg \(judged by profile spec\)$/m);
    expect(r.out).toMatch(/^Observation SIPI-during-SMM (Never|Sometimes|Always) \d+ \d+$/m);
    expect(r.out).toMatch(/^Test AVIC-incomplete-IPI on qemu-tcg: REFUSED: config accel = avic/m);
    // The summary table after the reports.
    expect(r.out).toMatch(/^SIPI-during-SMM +(Ok|No) \((never|sometimes|always) \d\/\d\) +(allowed|FORBIDDEN \d\/\d)$/m);
    expect(r.out).toMatch(/^AVIC-incomplete-IPI +refused +config accel = avic: /m);
    const j = readReport(json);
    expect(j.kind).toBe('seeds');
    const seeds = readdirSync('litmus').filter((f) => /^seed-\d{3}-.*\.litmus$/.test(f)).sort();
    expect(j.tests.map((t) => t.file)).toEqual(seeds);
    expect(byFile(j, 'seed-000-sipi-during-smm.litmus')).toMatchObject({ status: 'ran', runs: 3 });
    expect(byFile(j, 'seed-001-avic-incomplete-ipi.litmus').refusal?.category).toBe('vcpu-assist');
    expect(r.code).toBe(j.tests.some((t) => t.forbidden > 0) ? 1 : 0);
  }, TEST_MS);

  it('seeds without --on is the model table; --runs alone is a usage error', () => {
    expect(lapis('seeds', '--runs', '2').code).toBe(2);
  });
});

// ---- the generator ------------------------------------------------------------------------------------------------

const EMPTY = { reason: null, refusal: null, condition: null, runs: 0, completed: 0, hung: 0, crashed: 0, unreadable: 0, timedOut: 0, failures: [], outcomes: [], forbidden: 0, verdict: null, ok: null, observation: null, model: null, boots: 0, elapsedMs: 0 };

function ranTest(file: string, outcomes: { key: string; count: number; verdict: 'allowed' | 'FORBIDDEN'; allowedBy?: string[] }[], extra: Partial<TestJson> = {}): TestJson {
  const completed = outcomes.reduce((n, o) => n + o.count, 0);
  const forbidden = outcomes.filter((o) => o.verdict === 'FORBIDDEN').reduce((n, o) => n + o.count, 0);
  return {
    ...EMPTY, file, name: file, status: 'ran', condition: 'forall (x = 1)', runs: completed, completed, forbidden, verdict: forbidden > 0 ? 'FORBIDDEN' : 'allowed', ok: forbidden === 0,
    observation: forbidden === 0 ? 'Always' : 'Never', boots: 1, elapsedMs: 10,
    outcomes: outcomes.map((o) => ({ key: o.key, count: o.count, satisfies: o.verdict === 'allowed', verdict: o.verdict, allowedBy: o.allowedBy ?? [] })),
    model: { profile: 'spec', complete: true, ok: true, error: null, allowed: 1, notObserved: [] },
    ...extra,
  };
}

function fixture(backend: string, tests: TestJson[]): SuiteJson {
  return {
    schema: 'lapis-suite/1', kind: 'suite', backend: { name: backend, description: `${backend} (fixture)`, version: `${backend} 1.0` }, profile: 'spec', runsPerTest: 10, jobs: 1, dir: 'litmus',
    host: { cpus: 2, cpuModel: 'Fixture CPU', kernel: '6.0', arch: 'x64' }, started: '2026-01-02T03:04:05.000Z', elapsedMs: 65000, tests,
  };
}

const EXPLANATIONS = {
  schema: 'lapis-explanations/1',
  explanations: [
    { id: 'E1', title: 'late TPR', match: [{ test: 'tpr', backends: ['qemu-tcg'], outcome: ['r3 = 0'] }], classification: [{ kind: 'backend-bug', reference: 'SDM 11.8' }], text: ['The load runs first.'] },
    { id: 'E2', title: 'reproduced', match: [{ test: 'seed-000-x', outcome: ['y=2'] }], classification: [{ kind: 'profile', profiles: ['qemu-tcg-7.2'] }, { kind: 'decision', decision: 'D-6' }], text: 'A profile has it.' },
    { id: 'E3', title: 'fixed since', match: [{ test: 'ok', backends: ['qemu-tcg'] }], classification: [{ kind: 'not-established' }], text: 'Gone.' },
    { id: 'E4', title: 'bochs only', match: [{ test: 'tpr', backends: ['bochs'] }], classification: [{ kind: 'profile-gap', profile: 'bochs-2.7' }], text: 'Not run here.' },
  ],
};

function generatorFiles(extraTpr: boolean): { from: string[]; expl: string; dir: string } {
  const dir = mkdtempSync(join(work, 'gen-'));
  const tcg = fixture('qemu-tcg', [
    ranTest('tpr.litmus', [{ key: 'r2=0; r3=0', count: 7, verdict: 'FORBIDDEN' }, { key: 'r2=0; r3=1', count: 3, verdict: 'allowed' }, ...(extraTpr ? [{ key: 'r2=1; r3=5', count: 1, verdict: 'FORBIDDEN' as const, allowedBy: ['kvm-2019'] }] : [])]),
    ranTest('ok.litmus', [{ key: 'x=1', count: 10, verdict: 'allowed' }], { crashed: 2, runs: 12, failures: [{ status: 'crashed', reason: 'QEMU exited', count: 2 }] }),
    { ...EMPTY, file: 'refused.litmus', name: 'refused', status: 'refused', refusal: { construct: 'ioapic.9 = {}', reason: 'the I/O APIC is not compiled yet', line: 3, byBackend: false, category: 'ioapic-msi' } },
    { ...EMPTY, file: 'new.litmus', name: 'new', status: 'refused', refusal: { construct: 'frob', reason: 'frobbing is not compiled', line: 1, byBackend: false, category: 'other: frobbing is not compiled' } },
    ranTest('seed-000-x.litmus', [{ key: 'y=2', count: 4, verdict: 'FORBIDDEN', allowedBy: ['qemu-tcg-7.2'] }, { key: 'y=1', count: 6, verdict: 'allowed' }]),
  ]);
  const q10 = fixture('qemu10-tcg', [
    ranTest('tpr.litmus', [{ key: 'r2=0; r3=1', count: 10, verdict: 'allowed' }]),
    ranTest('dead.litmus', [], { crashed: 3, runs: 3, failures: [{ status: 'crashed', reason: 'build: nasm failed', count: 3 }] }),
  ]);
  const from = [join(dir, 'qemu10.json'), join(dir, 'tcg.json')];
  // Given in the other order than the backends' canonical one: the document orders them itself.
  writeFileSync(from[0], JSON.stringify(q10));
  writeFileSync(from[1], JSON.stringify(tcg));
  const expl = join(dir, 'explanations.json');
  writeFileSync(expl, JSON.stringify(EXPLANATIONS));
  return { from, expl, dir };
}

describe('lapis conformance', () => {
  it('renders reports: versions, summary, refusals, results, seeds, explanations, stale; byte-identical again', () => {
    const g = generatorFiles(false);
    const out = join(g.dir, 'C.md');
    const r = lapis('conformance', '--from', ...g.from, '--explanations', g.expl, '--notes', '/dev/null', '--out', out);
    expect(r.code, r.err).toBe(0);
    const md = readFileSync(out, 'utf8');
    expect(md).toMatch(/^Machine: 2 CPUs \(Fixture CPU\), Linux 6\.0, x64\.$/m);
    expect(md).toContain('| qemu-tcg | qemu-tcg 1.0 | qemu-tcg (fixture) | 10 | 1 | spec | 2026-01-02 | 1 min 5 s |');
    expect(md).toContain('| qemu-tcg | 3 | 2 | 1 | 2 | 0 | 32 | 0 | 2 | 0 |');
    expect(md).toContain('| qemu10-tcg | 2 | 0 | 1 | 0 | 1 | 13 | 0 | 3 | 0 |');
    expect(md).toContain('| dead |  | **no run completed** (+3 crashed) |');
    expect(md.indexOf('| qemu-tcg | 3 |')).toBeLessThan(md.indexOf('| qemu10-tcg | 2 |'));
    expect(md).toContain('| the I/O APIC or device MSIs: a pin or device the backend cannot drive | 1 | 0 |');
    expect(md).toContain('| other: frobbing is not compiled | 1 | 0 |');
    expect(md).toContain('| tpr | **FORBIDDEN 7/10** [E1](#e1) | ok 10 |');
    expect(md).toContain('| ok | ok 10 (+2 crashed) |  |');
    expect(md).toContain('| refused | refused: I/O APIC, MSI |  |');
    expect(md).toMatch(/## Seed scenarios on real machines[\s\S]*\| seed-000-x \| Ok \| No, held in 6\/10; \*\*FORBIDDEN 4\/10\*\* \[E2\]\(#e2\) \|  \|/);
    expect(md).toContain('- `ok` on qemu-tcg: 2 crashed: QEMU exited');
    // Each outcome's frequency with its 95 % Wilson interval, 0/N where a backend ran the test and never gave it.
    expect(md).toMatch(/## Outcome frequencies[\s\S]*\*\*tpr\*\*\n\n\| outcome \| verdict \| qemu-tcg \| qemu10-tcg \|\n\|---\|---\|---\|---\|\n\| `r2=0; r3=1` \| allowed \| 3\/10 \(11–60 %\) \| 10\/10 \(72–100 %\) \|\n\| `r2=0; r3=0` \| \*\*FORBIDDEN\*\* \[E1\]\(#e1\) \| 7\/10 \(40–89 %\) \| 0\/10 \(0–28 %\) \|/);
    expect(md).not.toMatch(/\*\*dead\*\*\n/);
    expect(md).toMatch(/### E1\n\n\*\*late TPR\*\*\n\n- `tpr` on qemu-tcg, 7\/10 runs: `r2=0; r3=0` \(no profile allows it\)\n\nClassification: \*\*backend bug\*\* \(SDM 11\.8\)\.\n\nThe load runs first\./);
    expect(md).toContain('Classification: **reproduced by a profile**: `qemu-tcg-7.2`; **model decision** D-6 (docs/decisions.md).');
    expect(md).toMatch(/## Stale explanations[\s\S]*- \*\*E3\*\* fixed since: ok: qemu-tcg: no FORBIDDEN outcome/);
    expect(md).toMatch(/## Explanations not checked here[\s\S]*- \[E4\] bochs only: tpr: bochs not in these reports/);
    expect(md).not.toContain('## UNEXPLAINED FORBIDDEN outcomes');
    expect(md).not.toMatch(/^\|.*\*\*UNEXPLAINED\*\*/m);
    expect(md).toContain('- **UNEXPLAINED**: none.');
    expect(r.err).toMatch(/stale explanation E3/);
    // Again, and with the reports in the other order: the same bytes.
    const out2 = join(g.dir, 'C2.md');
    expect(lapis('conformance', '--from', g.from[1], g.from[0], '--explanations', g.expl, '--notes', '/dev/null', '--out', out2).code).toBe(0);
    expect(readFileSync(out2, 'utf8')).toBe(md);
  });

  it('a FORBIDDEN outcome no explanation matches is UNEXPLAINED, loudly, and exits 1', () => {
    const g = generatorFiles(true);
    const out = join(g.dir, 'C.md');
    const r = lapis('conformance', '--from', ...g.from, '--explanations', g.expl, '--notes', '/dev/null', '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/UNEXPLAINED: tpr on qemu-tcg, 1\/11 runs: r2=1; r3=5/);
    const md = readFileSync(out, 'utf8');
    expect(md).toContain('| tpr | **FORBIDDEN 8/11** [E1](#e1) **UNEXPLAINED** | ok 10 |');
    expect(md).toMatch(/## UNEXPLAINED FORBIDDEN outcomes\n[\s\S]*- \*\*UNEXPLAINED\*\* `tpr` on qemu-tcg, 1\/11 runs: `r2=1; r3=5` \(allowed by kvm-2019\)/);
    expect(md).toContain('- **UNEXPLAINED**: 1 outcome, [below](#unexplained-forbidden-outcomes).');
  });

  it('two reports of one backend merge: a test in both shows the later-started run, in either order', () => {
    const g = generatorFiles(false);
    const rerun = join(g.dir, 'rerun.json');
    writeFileSync(rerun, JSON.stringify({ ...fixture('qemu-tcg', [ranTest('tpr.litmus', [{ key: 'r2=0; r3=1', count: 5, verdict: 'allowed' }])]), started: '2026-02-01T00:00:00.000Z', runsPerTest: 5 }));
    const a = lapis('conformance', '--from', rerun, ...g.from, '--explanations', g.expl, '--notes', '/dev/null');
    const b = lapis('conformance', '--from', ...g.from, rerun, '--explanations', g.expl, '--notes', '/dev/null');
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain('| tpr | ok 5 | ok 10 |');
    expect(a.out).toContain('| qemu-tcg | qemu-tcg 1.0 | qemu-tcg (fixture) | 5, 10 | 1 | spec | 2026-01-02, 2026-02-01 | 2 min 10 s |');
    expect(b.out).toBe(a.out);
    // E1 explained only the replaced run: now stale.
    expect(a.out).toMatch(/- \*\*E1\*\* late TPR: tpr r3=0: qemu-tcg: no FORBIDDEN outcome/);
  });

  it('many outcomes of one test on one backend (a count that varies) are one line', () => {
    const dir = mkdtempSync(join(work, 'storm-'));
    const keys = ['c=0x10', 'c=0x11', 'c=0x12', 'c=0x13', 'c=0x9'];
    writeFileSync(join(dir, 'r.json'), JSON.stringify(fixture('qemu-tcg', [ranTest('storm.litmus', keys.map((key) => ({ key: `${key}; r=1`, count: 2, verdict: 'FORBIDDEN' as const })))])));
    writeFileSync(join(dir, 'e.json'), JSON.stringify({ schema: 'lapis-explanations/1', explanations: [{ id: 'S1', title: 'storm', match: [{ test: 'storm', outcome: ['r=1'] }], classification: [{ kind: 'not-established' }], text: 'x' }] }));
    const r = lapis('conformance', '--from', join(dir, 'r.json'), '--explanations', join(dir, 'e.json'), '--notes', '/dev/null');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('- `storm` on qemu-tcg, 10/10 runs in 5 outcomes, e.g. `c=0x10; r=1`, `c=0x11; r=1`, `c=0x12; r=1` (no profile allows them)');
    // The explanation lists the first three; the frequency table shows every outcome (up to six).
    expect(r.out.slice(r.out.indexOf('## FORBIDDEN outcomes explained'))).not.toContain('`c=0x9; r=1`');
    expect(r.out).toMatch(/## Outcome frequencies[\s\S]*\| `c=0x9; r=1` \| \*\*FORBIDDEN\*\* \[S1\]\(#s1\) \| 2\/10 \(5\.7–51 %\) \|/);
  });

  it('bad input: a clear error and exit 2', () => {
    const g = generatorFiles(false);
    expect(lapis('conformance').err).toMatch(/needs --on BACKEND/);
    const notJson = join(g.dir, 'x.json');
    writeFileSync(notJson, '{"schema": "other"}');
    const a = lapis('conformance', '--from', notJson, '--explanations', g.expl);
    expect(a.code).toBe(2);
    expect(a.err).toContain(`${notJson}: schema is "other", expected "lapis-suite/1"`);
    const missing = lapis('conformance', '--from', join(g.dir, 'none.json'), '--explanations', g.expl);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/none\.json: no such file/);
    const badExpl = join(g.dir, 'bad-expl.json');
    writeFileSync(badExpl, JSON.stringify({ schema: 'lapis-explanations/1', explanations: [{ id: 'E1', title: 't', match: [{ test: 'tpr' }], classification: [{ kind: 'backend-bug' }], text: 'x' }] }));
    const b = lapis('conformance', '--from', ...g.from, '--explanations', badExpl);
    expect(b.code).toBe(2);
    expect(b.err).toContain('explanations[0] (E1).classification[0].reference: a backend bug needs a reference');
    writeFileSync(badExpl, JSON.stringify({ schema: 'lapis-explanations/1', explanations: [{ id: 'E1', title: 't', match: [{ test: 'tpr', outcome: ['r3'] }], classification: [{ kind: 'not-established' }], text: 'x' }] }));
    expect(lapis('conformance', '--from', ...g.from, '--explanations', badExpl).err).toContain('"r3" is not "name=value"');
    expect(lapis('conformance', '--from', ...g.from, '--explanations', g.expl, '--runs', '3').err).toMatch(/--runs only with --on/);
    expect(lapis('conformance', '--on', 'nowhere', '--explanations', g.expl).code).toBe(2);
  });

  it('--on runs the suite (qemu-tcg), --save keeps the report, the real explanations explain what it saw', () => {
    const dir = suiteDir(['self-ipi-once.litmus', 'tpr-holds-until-lowered.litmus']);
    const save = join(work, 'saved');
    const out = join(work, 'on.md');
    const r = lapis('conformance', '--on', 'qemu-tcg', '--runs', '4', '--dir', dir, '--save', save, '--notes', '/dev/null', '--out', out);
    expect(r.code, r.err).toBe(0);
    const saved = readReport(join(save, 'qemu-tcg.json'));
    expect(saved.runsPerTest).toBe(4);
    // Judged runs: a run past the guest's per-run limit or with a ping not answered in time (a loaded host) is not.
    expect(saved.tests.map((t) => [t.file, t.completed + t.timedOut + t.unreadable])).toEqual([['self-ipi-once.litmus', 4], ['tpr-holds-until-lowered.litmus', 4]]);
    const n = (file: string): number => saved.tests.find((t) => t.file === file)?.completed ?? -1;
    const md = readFileSync(out, 'utf8');
    expect(md).toContain(`| tpr-holds-until-lowered | **FORBIDDEN ${n('tpr-holds-until-lowered.litmus')}/${n('tpr-holds-until-lowered.litmus')}** [F1](#f1)`);
    expect(md).toContain(`| self-ipi-once | ok ${n('self-ipi-once.litmus')}`);
    // F2 names qemu-tcg, which ran, but matched nothing here.
    expect(md).toMatch(/## Stale explanations[\s\S]*- \*\*F2\*\* /);
    // The saved report renders to the same document.
    const again = join(work, 'again.md');
    expect(lapis('conformance', '--from', join(save, 'qemu-tcg.json'), '--notes', '/dev/null', '--out', again).code).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(md);
  }, TEST_MS);

  it('CONFORMANCE.md is what the generator makes of the checked-in reports, with nothing UNEXPLAINED', () => {
    const dir = 'conformance/results';
    const reports = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f)) : [];
    expect(reports.length).toBeGreaterThan(0);
    const out = join(work, 'CONFORMANCE.md');
    const r = lapis('conformance', '--from', ...reports, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync('CONFORMANCE.md', 'utf8'));
  });

  it('each evidence directory\'s RESULTS.md is what the generator makes of its reports, with nothing UNEXPLAINED', () => {
    const root = 'conformance/evidence';
    const dirs = readdirSync(root).map((d) => join(root, d));
    expect(dirs.length).toBeGreaterThan(0);
    for (const dir of dirs) {
      const reports = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
      const out = join(work, 'RESULTS.md');
      const r = lapis('conformance', '--from', ...reports, '--notes', join(dir, 'README.md'), '--out', out);
      expect(r.code, r.err).toBe(0);
      const md = readFileSync(out, 'utf8');
      expect(md, dir).toBe(readFileSync(join(dir, 'RESULTS.md'), 'utf8'));
      expect(md).toContain('**UNEXPLAINED**: none.');
    }
  });
});

describe('lapis conformance --rejudge', () => {
  it('judges saved runs again by the model as it is now: a verdict the model no longer gives is corrected, the runs kept', () => {
    // A real report's test, with its one allowed outcome's verdict falsified as a stale report would have it.
    const first = readdirSync('conformance/results').filter((f) => /^qemu-tcg\..*json$/.test(f)).sort()[0];
    const src = readReport(join('conformance/results', first));
    const t = src.tests.find((x) => x.status === 'ran' && x.forbidden === 0 && x.outcomes.length > 0);
    if (!t) throw new Error('no all-allowed test in the checked-in qemu-tcg report');
    const stale: SuiteJson = { ...src, tests: [{ ...t, verdict: 'FORBIDDEN', forbidden: t.outcomes[0].count, outcomes: t.outcomes.map((o, i) => (i === 0 ? { ...o, verdict: 'FORBIDDEN' as const, allowedBy: ['bochs-2.7'] } : o)) }] };
    const file = join(work, 'stale.json');
    writeFileSync(file, JSON.stringify(stale, null, 2));
    const r = lapis('conformance', '--from', file, '--rejudge', '--out', join(work, 'stale.md'));
    expect(r.err).toContain('stale.json: judged again by the model as it is now: 1 outcome changed');
    const fixed = readReport(file);
    expect(fixed.tests[0].verdict).toBe('allowed');
    expect(fixed.tests[0].forbidden).toBe(0);
    expect(fixed.tests[0].outcomes.map((o) => [o.key, o.count, o.verdict, o.allowedBy])).toEqual(t.outcomes.map((o) => [o.key, o.count, 'allowed', []]));
    expect(fixed.tests[0].runs).toBe(t.runs);
  });

  it('the checked-in reports agree with the model as it is now (re-judge them after a model change)', () => {
    const dir = 'conformance/results';
    const files = readdirSync(dir).filter((x) => x.endsWith('.json')).sort();
    const copies = files.map((f) => join(work, `now-${f}`));
    files.forEach((f, i) => copyFileSync(join(dir, f), copies[i]));
    const r = lapis('conformance', '--from', ...copies, '--rejudge', '--out', join(work, 'now.md'));
    for (const c of copies) expect(r.err).toContain(`${c}: judged again by the model as it is now: 0 outcomes changed`);
  });

  it('--rejudge needs --from', () => {
    const r = lapis('conformance', '--on', 'qemu-tcg', '--rejudge');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--rejudge judges saved reports again: it needs --from REPORT.json');
  });
});
