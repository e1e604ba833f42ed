// A campaign spread over machines: suite --shard I/N (each file in exactly one shard), and lapis conformance --from
// merging the shards of one host into one column and giving each other host its own.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SuiteJson } from '../../src/backends/report.js';
import { renderConformance } from '../../src/backends/render.js';
import { parseExplanations } from '../../src/backends/explain.js';
import { lapis } from '../helpers/lapis.js';


const work = mkdtempSync(join(tmpdir(), 'lapis-shard-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EXPLANATIONS = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'explanations.json');
const QEMU = JSON.parse(readFileSync('conformance/results/qemu-tcg.json', 'utf8')) as SuiteJson;
const BOCHS = JSON.parse(readFileSync('conformance/results/bochs.json', 'utf8')) as SuiteJson;

/** The report as shard I of N would have it (the time split among the shards). */
function shardOf(r: SuiteJson, index: number, count: number): SuiteJson {
  const part = Math.floor(r.elapsedMs / count);
  return { ...r, tests: r.tests.filter((_, k) => k % count === index - 1), shard: `${index}/${count}`, elapsedMs: index === 1 ? r.elapsedMs - (count - 1) * part : part };
}

function render(reports: SuiteJson[]): string {
  return renderConformance({ reports, explanations: EXPLANATIONS, notes: null, decisions: null }).text;
}

/** The results-per-test table. */
function results(text: string): string {
  return text.slice(text.indexOf('## Results per test'), text.indexOf('## Seed scenarios'));
}

describe('suite --shard', () => {
  it('the shards of a directory are disjoint and together every file', () => {
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = lapis('suite', 'litmus', '--profile', 'spec', '--shard', `${i}/3`);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`\\(shard ${i}/3: \\d+ files\\)$`, 'm'));
      seen.push(...[...r.out.matchAll(/^(\S+)\s+spec\s/gm)].map((m) => m[1]));
    }
    const all = lapis('suite', 'litmus', '--profile', 'spec').out;
    expect(seen.sort()).toEqual([...all.matchAll(/^(\S+)\s+spec\s/gm)].map((m) => m[1]).sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('--on: the report has only the shard\'s tests and says which shard it is', () => {
    const dir = mkdtempSync(join(work, 'suite-'));
    for (const f of ['self-ipi-once.litmus', 'tpr-holds-until-lowered.litmus', 'decision-d15-bsp-init-halts.litmus']) copyFileSync(join('litmus', f), join(dir, f));
    const json = join(work, 'shard.json');
    const r = lapis('suite', dir, '--on', 'qemu-tcg', '--runs', '2', '--shard', '2/2', '--json', json);
    expect(r.code, r.err).toBeLessThan(2);
    const j = JSON.parse(readFileSync(json, 'utf8')) as SuiteJson;
    expect(j.shard).toBe('2/2');
    expect(j.tests.map((t) => t.file)).toEqual(['self-ipi-once.litmus']);
    expect(lapis('conformance', '--from', json, '--shard', '1/2').err).toMatch(/^lapis: --shard only with --on/);
  }, 180_000);
});

describe('conformance --from, several hosts', () => {
  it('shards of one host merge into one column: the same document as the whole report', () => {
    expect(render([shardOf(QEMU, 2, 3), shardOf(QEMU, 1, 3), shardOf(QEMU, 3, 3), BOCHS])).toBe(render([QEMU, BOCHS]));
  });

  it('a report from another host (another CPU or kernel) gets its own column', () => {
    const other: SuiteJson = { ...QEMU, host: { ...QEMU.host, cpuModel: 'Intel Xeon', kernel: '6.1.0-28-amd64' }, started: '2030-01-01T00:00:00.000Z' };
    const text = render([QEMU, other, BOCHS]);
    expect(text).toMatch(/^Hosts \(a column per backend and host\): H1: 2 CPUs \(AMD EPYC\), Linux [^;]+; H2: 2 CPUs \(Intel Xeon\), Linux 6\.1\.0-28-amd64, x64\.$/m);
    expect(results(text)).toMatch(/^\| test \| qemu-tcg on H1 \| qemu-tcg on H2 \| bochs on H1 \|$/m);
    // The same outcomes, explained the same way, on both hosts.
    const row = results(text).split('\n').find((l) => l.startsWith('| tpr-holds-until-lowered |'))!;
    expect(row.split(' | ')[1]).toBe(row.split(' | ')[2]);
    expect(row).toContain('[F1](#f1)');
    expect(text).toMatch(/`tpr-holds-until-lowered` on qemu-tcg on H2, /);
  });

  it('the CLI merges saved reports from two hosts with a column each', () => {
    const a = join(work, 'a.json'), b = join(work, 'b.json');
    writeFileSync(a, JSON.stringify(BOCHS));
    writeFileSync(b, JSON.stringify({ ...BOCHS, host: { ...BOCHS.host, kernel: '6.12.0' } }));
    const r = lapis('conformance', '--from', a, b);
    expect(r.out).toMatch(/^\| test \| bochs on H1 \| bochs on H2 \|$/m);
  });
});
