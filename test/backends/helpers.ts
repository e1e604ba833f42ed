// Shared by the backend test files: a per-file temporary directory (the runner's TMPDIR, checked empty at the
// end: conform() and bootOnce() remove what they make), litmus loading, backend lookup and result unwrapping.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { getBackend, type Backend } from '../../src/backends/backends.js';
import { compileTest, CompileRefusal } from '../../src/backends/compile.js';
import { formatConform, type ConformRan, type ConformResult } from '../../src/backends/conform.js';
import { buildGuest } from '../../src/backends/build.js';
import { bootOnce } from '../../src/backends/run.js';

/**
 * Give this test file its own TMPDIR for the runs, and check at the end that nothing was left in it. Returns the
 * directory (once the file's tests run), for scratch directories a test makes and removes itself.
 */
export function useRunTempDir(prefix: string): () => string {
  let work = '';
  const savedTmp = process.env.TMPDIR;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), `lapis-${prefix}-test-`));
    process.env.TMPDIR = work;
  });
  afterAll(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    const left = existsSync(work) ? readdirSync(work) : [];
    rmSync(work, { recursive: true, force: true });
    expect(left).toEqual([]);
  });
  return () => work;
}

export function parse(src: string, file = 'inline.litmus'): LitmusTest {
  const r = parseLitmus(src, file);
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.test;
}
export const load = (file: string): LitmusTest => parse(readFileSync(file, 'utf8'), file);

export function backend(name: string): Backend {
  const b = getBackend(name);
  if (!b) throw new Error(`no backend ${name}`);
  return b;
}

export function ran(r: ConformResult): ConformRan {
  if (r.status !== 'ran') throw new Error(formatConform(r).join('\n'));
  return r;
}
export const text = (r: ConformResult): string => formatConform(r).join('\n');

/** Longer than any boot's start-up and run limits together: vitest never abandons a boot in progress. */
export const BOOT_TEST_MS = 600_000;

/**
 * What a loaded host may do to runs on any backend, and no more: a run past the guest's per-run limit (timed out)
 * or one whose CPU did not answer the end-of-test ping within LIT_PING_US (unreadable) is not judged; nothing
 * hangs or crashes, and some runs are judged. Counts of outcomes are then asserted on `completed`.
 */
export function expectJudged(r: ConformRan, runs: number): void {
  expect(r.hung + r.crashed, text(r)).toBe(0);
  expect(r.completed + r.timedOut + r.unreadable, text(r)).toBe(runs);
  expect(r.completed, text(r)).toBeGreaterThan(0);
}

/** The compiler's refusal of a test that must be refused. */
export function refusal(t: LitmusTest): CompileRefusal {
  try {
    compileTest(t);
  } catch (e) {
    if (e instanceof CompileRefusal) return e;
    throw e;
  }
  throw new Error(`${t.name} compiled`);
}

/**
 * Assemble a one-CPU guest from NASM source (it includes the runtime, guest/), boot it once on `on` in a scratch
 * directory under `work` (removed after), and return what it reported; the boot must complete.
 */
export async function bootSource(work: string, name: string, source: string, on = 'qemu-tcg'): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(work, 'g-'));
  try {
    writeFileSync(join(dir, `${name}.asm`), source);
    const image = buildGuest({ source: join(dir, `${name}.asm`), out: join(dir, `${name}.img`) });
    const r = await bootOnce({ backend: backend(on), image, machine: { cpus: 1 }, timeoutMs: 60_000 });
    expect(r.status, `${r.reason}\n${r.diagnostics}`).toBe('completed');
    return r.values;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
