// lapis run / check: parse, explore, answer.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadLitmus } from '../litmus/check.js';
import type { LitmusTest } from '../litmus/ast.js';
import { findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { formatAnswer } from '../explore/answer.js';
import { formatTrace } from '../explore/trace.js';
import { bigintReplacer, jsonAnswer, type Run } from '../explore/run.js';
import { UsageError } from './errors.js';
import { catalogDir } from './package.js';

export { UsageError };

/**
 * A test named on the command line: a file, or the name of a catalog test (`seed-000-sipi-during-smm`, with or
 * without `.litmus`) shipped with the package. A missing file or a directory is a usage error.
 */
export function testFile(arg: string): string {
  if (existsSync(arg)) {
    if (statSync(arg).isDirectory()) throw new UsageError(`${arg}: is a directory, not a litmus file`);
    return arg;
  }
  if (/^[A-Za-z0-9][\w.-]*$/.test(arg)) {
    const inCatalog = join(catalogDir(), arg.endsWith('.litmus') ? arg : `${arg}.litmus`);
    if (existsSync(inCatalog)) return inCatalog;
  }
  throw new UsageError(`${arg}: no such file, and no catalog test of that name (lapis list)`);
}

export function loadTest(file: string): { test: LitmusTest } | { errors: string[] } {
  const r = loadLitmus(file);
  return r.ok ? { test: r.test } : { errors: r.errors.map((d) => d.format()) };
}

export function profileOrThrow(name: string): Profile {
  const p = findProfile(name);
  if (!p) throw new UsageError(`unknown profile '${name}'; profiles: ${PROFILES.map((x) => x.name).join(', ')}`);
  return p;
}

/** The lines `lapis run` prints for a run: the JSON answer (runLitmus's), or the herd-style text and traces. */
export function runLines(r: Run, mode: { json: boolean; trace: boolean; traceJson: boolean }): string[] {
  if (mode.json) return [JSON.stringify(jsonAnswer(r, mode.traceJson))];
  const lines = formatAnswer(r.answer);
  if (r.sim && r.result) {
    if (mode.trace) lines.push(...(formatTrace(r.sim, r.result, false) as string[]));
    if (mode.traceJson) lines.push(JSON.stringify(formatTrace(r.sim, r.result, true), bigintReplacer));
  }
  return lines;
}
