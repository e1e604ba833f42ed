// lapis run / check: parse, explore, answer.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadLitmus } from '../litmus/check.js';
import { parseLitmus } from '../litmus/parse.js';
import type { LitmusTest } from '../litmus/ast.js';
import type { Profile } from '../sim/profiles.js';
import { formatAnswer } from '../explore/answer.js';
import { formatTrace } from '../explore/trace.js';
import { bigintReplacer, jsonAnswer, type Run } from '../explore/run.js';
import { UsageError } from './errors.js';
import { catalogDir } from './package.js';
import { EXIT, combine, exitFor } from './exit.js';
import type { Explorer, Limits } from './explorer.js';
import { answerColour, colours, exploreStatus, progressLine, type Colours } from './output.js';

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

/** The lines `lapis run` prints for a run: the JSON answer (runLitmus's), or the herd-style text and traces. */
export function runLines(r: Run, mode: { json: boolean; trace: boolean; traceJson: boolean }): string[] {
  if (mode.json) return [JSON.stringify(jsonAnswer(r, mode.traceJson))];
  const lines = formatAnswer(r.answer);
  if (r.sim && r.result) {
    if (mode.trace) lines.push(...formatTrace(r.sim, r.result, false));
    if (mode.traceJson) lines.push(JSON.stringify(formatTrace(r.sim, r.result, true), bigintReplacer));
  }
  return lines;
}

export interface RunModelOptions {
  limits: Limits;
  /** --progress: also off a terminal and with --json. */
  progress: boolean;
  json: boolean;
  trace: boolean;
  traceJson: boolean;
}

/** `lapis run FILE...` on the model: each test explored in the worker, its answer printed; the exit code. */
export async function runModel(files: string[], profile: Profile, o: RunModelOptions, explorer: Explorer, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const c = colours();
  const progress = progressLine(o.progress ? 'always' : o.json ? 'off' : 'auto');
  let code = EXIT.OK as number;
  for (const [i, file] of files.entries()) {
    const source = readFileSync(file, 'utf8');
    const parsed = parseLitmus(source, file);
    if (!parsed.ok) {
      for (const d of parsed.errors) err(d.format());
      code = combine(code, EXIT.USAGE);
      continue;
    }
    const t0 = Date.now();
    const done = await explorer.run({ source, file, profile, limits: o.limits, mode: { json: o.json, trace: o.trace, traceJson: o.traceJson } },
      (states, depth) => progress.show(`${parsed.test.name}: ${exploreStatus(states, depth, Date.now() - t0)}`));
    progress.clear();
    for (const line of done.lines) print(o.json ? line : colourLine(c, line));
    code = combine(code, exitFor(done.answer.result));
    if (explorer.interrupted) break;
    if (!o.json && i < files.length - 1) print('');
  }
  return explorer.interrupted ? EXIT.INTERRUPTED : code;
}

function colourLine(c: Colours, line: string): string {
  if (line === 'Ok' || line === 'No') return answerColour(c, line);
  if (line.startsWith('Unsupported:') || line.startsWith('Incomplete:')) return c.warn(line);
  return line;
}
