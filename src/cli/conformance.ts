// lapis conformance: run the suite on backends (or read saved suite reports) and write CONFORMANCE.md
// (docs/conformance.md, "Conformance runs"). Exit 0 when every FORBIDDEN outcome has an explanation, 1 when one is
// UNEXPLAINED (or a suite run failed to write), 2 for a usage error, an unreadable report or explanations file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suiteReport } from '../backends/cli.js';
import { ExplanationsError, parseExplanations, type Explanation } from '../backends/explain.js';
import { parseSuiteJson, ReportError, suiteJsonText, type SuiteJson } from '../backends/report.js';
import { rejudge, type ModelCache } from '../backends/rejudge.js';
import { renderConformance } from '../backends/render.js';
import { catalogDir, packageFile } from './package.js';
import { parseShard } from './shard.js';

export interface ConformanceOptions {
  on?: string;
  from?: string[];
  runs?: number;
  jobs?: number;
  dir?: string;
  save?: string;
  explanations?: string;
  notes?: string;
  out?: string;
  rejudge?: boolean;
  /** --shard I/N: with --on, only the I-th of N slices of the directory's files. */
  shard?: string;
  /** --settle: with --on, the guest's quiet time, µs. */
  settle?: number;
}

function read(file: string, what: string, err: (s: string) => void): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    err(`lapis: ${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    return null;
  }
}

export async function conformanceCommand(o: ConformanceOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const backends = o.on === undefined ? [] : o.on.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const from = o.from ?? [];
  if (backends.length === 0 && from.length === 0) {
    err('lapis: conformance needs --on BACKEND[,BACKEND...] or --from REPORT.json...');
    return 2;
  }
  if (new Set(backends).size !== backends.length) {
    err(`lapis: --on names a backend twice: ${o.on ?? ''}`);
    return 2;
  }
  if (o.rejudge === true && from.length === 0) {
    err('lapis: --rejudge judges saved reports again: it needs --from REPORT.json...');
    return 2;
  }
  if (backends.length === 0) {
    const given = (['runs', 'jobs', 'save', 'shard', 'settle'] as const).filter((k) => o[k] !== undefined);
    if (given.length > 0) {
      err(`lapis: ${given.map((k) => `--${k}`).join(', ')} only with --on`);
      return 2;
    }
  }

  const shard = o.shard !== undefined ? parseShard(o.shard) : undefined;
  const explFile = o.explanations ?? packageFile('conformance/explanations.json');
  const explText = read(explFile, 'explanations file', err);
  if (explText === null) return 2;
  let explanations: Explanation[];
  try {
    explanations = parseExplanations(explText, explFile);
  } catch (e) {
    if (e instanceof ExplanationsError) {
      err(`lapis: ${e.message}`);
      return 2;
    }
    throw e;
  }
  let notes: string | null = null;
  const notesFile = o.notes ?? packageFile('conformance/notes.md');
  if (o.notes !== undefined || existsSync(notesFile)) {
    notes = read(notesFile, 'notes file', err);
    if (notes === null) return 2;
  }
  const decisionsFile = packageFile('docs/decisions.md');
  const decisions = existsSync(decisionsFile) ? new Set([...readFileSync(decisionsFile, 'utf8').matchAll(/^## (D-\d+) /gm)].map((m) => m[1])) : null;

  const reports: SuiteJson[] = [];
  const models: ModelCache = new Map();
  for (const f of from) {
    const text = read(f, 'suite report', err);
    if (text === null) return 2;
    try {
      const saved = parseSuiteJson(text, f);
      if (o.rejudge === true) {
        const r = rejudge(saved, o.dir ?? catalogDir(), models);
        for (const s of r.skipped) err(`lapis: ${f}: ${s.file} not judged again: ${s.why}`);
        err(`lapis: ${f}: judged again by the model as it is now: ${r.changed} outcome${r.changed === 1 ? '' : 's'} changed`);
        writeFileSync(f, suiteJsonText(r.report));
        reports.push(r.report);
      } else reports.push(saved);
    } catch (e) {
      if (e instanceof ReportError) {
        err(`lapis: ${e.message}`);
        return 2;
      }
      throw e;
    }
  }
  if (o.save !== undefined) {
    try {
      mkdirSync(o.save, { recursive: true });
    } catch (e) {
      err(`lapis: --save ${o.save}: ${(e as Error).message}`);
      return 2;
    }
  }
  // Fresh runs come after the saved reports: a test in both is shown as run now.
  let code = 0;
  for (const b of backends) {
    err(`lapis: suite on ${b} ...`);
    const r = await suiteReport(o.dir ?? catalogDir(), { on: b, runs: o.runs, jobs: o.jobs, shard, settleUs: o.settle, json: o.save !== undefined ? join(o.save, shard ? `${b}.${shard.index}-of-${shard.count}.json` : `${b}.json`) : undefined }, err, err);
    if (!r.report) return 2;
    if (r.code === 2) code = 2;
    reports.push(r.report);
  }

  const out = renderConformance({ reports, explanations, notes, decisions });
  for (const u of out.unexplained) err(`lapis: UNEXPLAINED: ${u.test} on ${u.backend}, ${u.count}/${u.completed} runs: ${u.key}`);
  for (const s of out.stale) err(`lapis: stale explanation ${s.id}: ${s.why}`);
  for (const w of out.warnings) err(`lapis: explanation warning: ${w}`);
  if (o.out !== undefined) {
    try {
      writeFileSync(o.out, out.text);
    } catch (e) {
      err(`lapis: --out ${o.out}: ${(e as Error).message}`);
      return 2;
    }
  } else print(out.text.trimEnd());
  if (code === 2) return 2;
  return out.unexplained.length > 0 ? 1 : 0;
}
