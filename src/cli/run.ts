// lapis run / check: parse, explore, answer.
import { loadLitmus } from '../litmus/check.js';
import type { LitmusTest } from '../litmus/ast.js';
import { findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { formatAnswer } from '../explore/answer.js';
import { formatTrace } from '../explore/trace.js';
import { bigintReplacer, jsonAnswer, type Run } from '../explore/run.js';
import { UsageError } from './errors.js';

export { UsageError };

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
