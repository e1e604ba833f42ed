// The guest's quiet time (`--settle`, CompileOptions.settleUs; docs/conformance.md, "Quiet time"): what the
// compiler emits and allows for it, a real boot with a long one, how a report records it and how CONFORMANCE.md keeps
// such reports apart.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileTest, DEFAULT_SETTLE_US, SIPI_SETTLE_FACTOR } from '../../src/backends/compile.js';
import { HostError } from '../../src/arch/errors.js';
import { parseSuiteJson, type SuiteJson } from '../../src/backends/report.js';
import { renderConformance } from '../../src/backends/render.js';
import { BOOT_TEST_MS, load, useRunTempDir } from './helpers.js';
import { lapis } from '../helpers/lapis.js';

const work = useRunTempDir('settle');
const SIPI_TEST = 'litmus/seed-004-ap-init-clears-irr.litmus';

function define(asm: string, name: string): number {
  const m = new RegExp(`^%define ${name} (\\d+)`, 'm').exec(asm);
  if (!m) throw new Error(`no ${name}`);
  return Number(m[1]);
}

describe('the quiet time in the compiled guest', () => {
  it('defaults to 500 µs, six times that after a SIPI; a longer one lengthens the run limit by its excess', () => {
    const test = load(SIPI_TEST);
    const base = compileTest(test);
    expect(define(base.asm, 'LIT_SETTLE_US')).toBe(DEFAULT_SETTLE_US);
    expect(define(base.asm, 'LIT_SIPI_SETTLE_US')).toBe(SIPI_SETTLE_FACTOR * DEFAULT_SETTLE_US);
    expect(define(base.asm, 'LIT_ITER_TIMEOUT_US')).toBe(base.iterTimeoutUs);
    const long = compileTest(test, { settleUs: 5000 });
    expect(define(long.asm, 'LIT_SETTLE_US')).toBe(5000);
    expect(define(long.asm, 'LIT_SIPI_SETTLE_US')).toBe(30_000);
    // The run limit must outlast the quiet time after the last SIPI: 27 ms more than the default's.
    expect(long.iterTimeoutUs - base.iterTimeoutUs).toBe(SIPI_SETTLE_FACTOR * (5000 - DEFAULT_SETTLE_US));
    expect(define(long.asm, 'LIT_ITER_TIMEOUT_US')).toBe(long.iterTimeoutUs);
    // A shorter one keeps the default's limit.
    expect(compileTest(test, { settleUs: 200 }).iterTimeoutUs).toBe(base.iterTimeoutUs);
  });

  it('a quiet time out of range is the host\'s error, not a guest', () => {
    const test = load(SIPI_TEST);
    for (const bad of [0, 99, 100_001, 1.5, Number.NaN]) {
      expect(() => compileTest(test, { settleUs: bad }), String(bad)).toThrow(HostError);
    }
  });
});

describe('--settle on a real machine', () => {
  it('qemu-tcg: runs with a 30 ms quiet time after each SIPI end inside their limit, and the report records it', () => {
    const dir = mkdtempSync(join(work(), 'suite-'));
    copyFileSync(SIPI_TEST, join(dir, 'seed-004-ap-init-clears-irr.litmus'));
    const json = join(dir, 'settle.json');
    const r = lapis('suite', dir, '--on', 'qemu-tcg', '--runs', '5', '--settle', '5000', '--json', json);
    expect(r.code, r.err).toBeLessThan(2);
    const report = parseSuiteJson(readFileSync(json, 'utf8'), json);
    rmSync(dir, { recursive: true });
    expect(report.settleUs).toBe(5000);
    const t = report.tests[0];
    expect(t.status).toBe('ran');
    // Without the longer run limit every run would reach it (20 ms) before its quiet time (30 ms) ended.
    expect(t.timedOut ?? 0).toBe(0);
    expect(t.completed).toBeGreaterThanOrEqual(4);
  }, BOOT_TEST_MS);
});

describe('reports with another quiet time', () => {
  const QEMU = JSON.parse(readFileSync('conformance/results/qemu-tcg.json', 'utf8')) as SuiteJson;
  const render = (reports: SuiteJson[]): string => renderConformance({ reports, explanations: [], notes: null, decisions: null }).text;

  it('the reader checks the field', () => {
    expect(parseSuiteJson(JSON.stringify({ ...QEMU, settleUs: 5000 }), 'r.json').settleUs).toBe(5000);
    expect(() => parseSuiteJson(JSON.stringify({ ...QEMU, settleUs: 'long' }), 'r.json')).toThrow('r.json: report.settleUs: expected a number');
  });

  it('CONFORMANCE.md gives them a column of their own, named by the quiet time', () => {
    const text = render([QEMU, { ...QEMU, settleUs: 5000 }]);
    expect(text).toMatch(/H1: [^;]+; H2: [^;]+, quiet time 5000 µs/);
    expect(text).toContain('qemu-tcg on H1');
    expect(text).toContain('qemu-tcg on H2');
    expect(render([QEMU, { ...QEMU }])).not.toContain('on H2');
  });
});
