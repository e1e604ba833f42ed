// Limits that hold: a timeout ends a search whatever one state costs (256 CPUs), and maxMemory bounds the visited
// set and the DFS stack (a test with a huge memory, a test with many small states). Tests generated here.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLitmus } from '../../src/litmus/parse.js';
import { Simulator } from '../../src/sim/sim.js';
import { explore, type ExploreOptions } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';
import { bringupLitmus } from '../../src/scenarios/bringup.js';

function simulator(text: string): Simulator {
  const r = parseLitmus(text, 'gen.litmus');
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return new Simulator(r.test);
}
function run(text: string, opts: ExploreOptions) {
  const sim = simulator(text);
  const res = explore(sim, opts);
  return { res, ans: answer(sim.program.test, 'spec', res), stateBytes: sim.machine.state.byteLength };
}

/** n CPUs, each sending an IPI round a ring and storing: far too many interleavings to finish. */
function ring(n: number): string {
  const lines = [`lapis ring-${n}`, `config { cpus = ${n} }`, 'init { x = 0 }'];
  for (let i = 0; i < n; i++) lines.push(`P${i} {`, `  send fixed 0x40 -> P${(i + 1) % n}`, `  store x = ${i}`, '}');
  lines.push('forall (x = 0)');
  return lines.join('\n') + '\n';
}

/** Two CPUs storing to `stores` memory words each, of `words`: every state is `words` x 8 bytes. */
function bigMemory(words: number, stores: number): string {
  const lines = ['lapis big-memory', 'config { cpus = 2 }', 'init {'];
  for (let i = 0; i < words; i++) lines.push(`  w${i} = 0`);
  lines.push('}');
  for (let p = 0; p < 2; p++) {
    lines.push(`P${p} {`);
    for (let k = 0; k < stores; k++) lines.push(`  store w${p * stores + k} = 1`);
    lines.push('}');
  }
  lines.push('~exists (w0 = 3)');
  return lines.join('\n') + '\n';
}

describe('timeout', () => {
  it('ends a search of 256 CPUs, where one state is slow, by the timeout', () => {
    const { res, ans } = run(ring(256), { timeoutMs: 1000 });
    expect(res.cutBy).toBe('timeout');
    expect(res.complete).toBe(false);
    expect(ans.ok).toBe(false);
    expect(ans.cutBy).toBe('timeout');
  }, 60_000);

  it('ends random runs by the timeout', () => {
    const { res } = run(ring(3), { timeoutMs: 50, random: { runs: 1e12, seed: 1 } });
    expect(res.cutBy).toBe('timeout');
    expect(res.complete).toBe(false);
  });
});

describe('maxMemory', () => {
  it('a huge memory: no frame keeps a copy of its state, and a bound below what the search needs cuts it by memory', () => {
    const text = bigMemory(20_000, 12);
    // The whole search (14 x 14 states: each CPU before, between and after its 12 stores, and halted at the end) in
    // less than one state's 160 KB: its frames hold the words each step changed (src/explore/undo.ts), not states.
    const full = run(text, { maxMemory: 2 * 2 ** 20, por: false });
    expect(full.stateBytes).toBeGreaterThan(160_000);
    expect(full.res.complete).toBe(true);
    expect(full.res.states).toBe(196);
    expect(full.res.memoryBytes).toBeLessThan(full.stateBytes);
    const maxMemory = full.res.memoryBytes - 1;
    const { res, ans } = run(text, { maxMemory, por: false });
    expect(res.cutBy).toBe('memory');
    expect(ans.complete).toBe(false);
    expect(ans.ok).toBe(false);
    expect(res.memoryBytes).toBeLessThanOrEqual(maxMemory);
    expect(res.states).toBeLessThan(196);
  }, 60_000);

  it('many small states: the visited set stops at the bound', () => {
    const maxMemory = 256 * 1024;
    const { res } = run(bringupLitmus(3, true), { maxMemory, por: false });
    expect(res.cutBy).toBe('memory');
    expect(res.memoryBytes).toBeLessThanOrEqual(maxMemory);
    expect(res.visitedBytes).toBeLessThanOrEqual(maxMemory);
    // A larger bound lets it go further.
    const more = run(bringupLitmus(3, true), { maxMemory: 4 * maxMemory, por: false }).res;
    expect(more.states).toBeGreaterThan(res.states);
  });

  it('random runs stop at the bound too', () => {
    const { res } = run(bringupLitmus(3, true), { maxMemory: 64 * 1024, random: { runs: 1e9, seed: 7 } });
    expect(res.cutBy).toBe('memory');
    expect(res.memoryBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('lapis run --max-memory MB cuts the search and says so in the answer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lapis-limits-'));
    try {
      const file = join(dir, 'bringup.litmus');
      // 216,835 states without reduction: a visited set of 3 MiB.
      writeFileSync(file, bringupLitmus(3, true));
      const args = ['dist/cli/main.js', 'run', file, '--max-memory', '2', '--no-por', '--no-symmetry'];
      const r = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8', timeout: 120_000 });
      const a = JSON.parse(r.stdout) as { complete: boolean; cutBy: string; ok: boolean };
      expect(a.complete).toBe(false);
      expect(a.cutBy).toBe('memory');
      expect(a.ok).toBe(false);
      const text = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
      expect(text.stdout).toMatch(/^Incomplete: exploration cut short by memory; complete: false$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
