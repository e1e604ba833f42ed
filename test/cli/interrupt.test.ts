// Ctrl-C. During an exploration the answer found so far is printed (complete: false) before exit 130; during a run
// on a real machine the emulator's whole process group is killed and every temporary directory removed. Nothing
// here waits a fixed time: each step waits for what it needs (the SIGINT handler, a QEMU process) to exist.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { qemu72Binary } from '../../src/backends/backends.js';
import { jsonOut } from '../helpers/lapis.js';

const MAIN = resolve('dist/cli/main.js');

async function until<T>(what: string, probe: () => T | null | undefined | false, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Output {
  out: string;
  err: string;
}

/** Collect a child's output; resolves with it and the exit code once it has closed. */
function exited(c: ChildProcess): { seen: Output; done: Promise<Output & { code: number | null }> } {
  const seen = { out: '', err: '' };
  c.stdout?.on('data', (d: Buffer) => (seen.out += d.toString()));
  c.stderr?.on('data', (d: Buffer) => (seen.err += d.toString()));
  return { seen, done: new Promise((res) => c.on('close', (code) => res({ code, ...seen }))) };
}

/** Live (not zombie) processes whose working directory is under `dir`, with their command names. */
function processesIn(dir: string): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z /.test(stat)) continue;
      if (readlinkSync(`/proc/${p}/cwd`).startsWith(dir)) found.push({ pid: Number(p), comm: readFileSync(`/proc/${p}/comm`, 'utf8').trim() });
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

describe('Ctrl-C', () => {
  it('during an exploration: the partial answer (complete: false, cut by interrupted), then exit 130', async () => {
    // --progress: a line on stderr once the search is under way (off a terminal too).
    const c = spawn(process.execPath, [MAIN, 'run', 'litmus/bringup-4.litmus', '--no-por', '--max-states', '100000000', '--json', '--progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { seen, done } = exited(c);
    await until('the search to start', () => seen.err.includes('states/s'));
    c.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    const a = jsonOut(r);
    expect(a).toMatchObject({ test: 'bringup-4', complete: false, cutBy: 'interrupted', result: 'Incomplete', ok: false });
    expect(a.states).toBeGreaterThan(0);
  });

  it('during a suite: the rows so far, then exit 130', async () => {
    const c = spawn(process.execPath, [MAIN, 'suite', 'litmus', '--profile', 'spec', '--progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { seen, done } = exited(c);
    await until('the suite to start', () => /\[\d+\/\d+\]/.test(seen.err));
    c.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    const m = /^interrupted after (\d+) of (\d+)$/m.exec(r.out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(Number(m![2]));
  });

  it.skipIf(qemu72Binary() === null)('during --on: the emulator process group is killed and the temporary directories removed', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lapis-sigint-'));
    try {
      // On a terminal, as a user presses Ctrl-C: the terminal signals lapis's process group, not QEMU's own.
      const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
      const cmd = [process.execPath, MAIN, 'run', 'litmus/seed-000-sipi-during-smm.litmus', '--on', 'qemu-tcg', '--runs', '1000000'].map(quote).join(' ');
      const c = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
      const { done } = exited(c);
      const qemu = await until('QEMU to boot', () => processesIn(tmp).find((p) => p.comm.startsWith('qemu-system')));
      c.stdin!.write('\x03');
      const r = await done;
      expect(r.code).toBe(130);
      await until(`QEMU (pid ${qemu.pid}) to be gone`, () => processesIn(tmp).length === 0, 10_000);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      // Should lapis have left one behind, it is this test's QEMU (its working directory is the test's): end it.
      for (const p of processesIn(tmp)) process.kill(p.pid, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
