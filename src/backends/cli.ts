// The command line's conformance commands (src/cli/main.ts calls these when `--on BACKEND` is given):
// `lapis run FILE... --on BACKEND`, `lapis suite DIR --on BACKEND` and `lapis seeds --on BACKEND`. Exit codes: 0 nothing FORBIDDEN, 1 a
// FORBIDDEN outcome (or a run error), 2 a usage or parse error, an unknown or unavailable backend, or (run) a
// refused test.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LitmusTest } from '../litmus/ast.js';
import { loadLitmus } from '../litmus/check.js';
import { findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { BACKEND_NAMES, getBackend, type Backend } from './backends.js';
import { conform, conformJson, formatConform, DEFAULT_RUNS, type ConformResult } from './conform.js';
import { junitXml, type JunitCase } from './junit.js';
import { backendInfo, hostInfo, parseErrorJson, SUITE_SCHEMA, suiteJsonText, testJson, type SuiteJson, type TestJson } from './report.js';

export interface RunOnOptions {
  on: string;
  runs?: number;
  jobs?: number;
  emitAsm?: string;
  /** A named profile or one from a profile file (default spec). */
  profile?: string | Profile;
  json?: boolean;
  /** The guest's quiet time, µs (CompileOptions.settleUs). */
  settleUs?: number;
}

function load(file: string): { test: LitmusTest } | { errors: string[] } {
  const r = loadLitmus(file);
  return r.ok ? { test: r.test } : { errors: r.errors.map((d) => d.format()) };
}

function backendOrError(name: string, err: (s: string) => void): Backend | null {
  const b = getBackend(name);
  if (!b) {
    err(`lapis: unknown backend '${name}'; backends: ${BACKEND_NAMES.join(', ')}`);
    return null;
  }
  const a = b.available();
  if (!a.ok) {
    err(`lapis: backend ${name} is unavailable here: ${a.reason}`);
    return null;
  }
  return b;
}

function profileOrError(name: string | Profile | undefined, err: (s: string) => void): Profile | null {
  if (typeof name === 'object') return name;
  const p = findProfile(name ?? 'spec');
  if (!p) err(`lapis: unknown profile '${name}'; profiles: ${PROFILES.map((x) => x.name).join(', ')}`);
  return p ?? null;
}

/** `lapis run FILE... --on BACKEND`: returns the exit code. */
export async function runOn(files: string[], o: RunOnOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const backend = backendOrError(o.on, err);
  const profile = profileOrError(o.profile, err);
  if (!backend || !profile) return 2;
  let code = 0;
  for (const file of files) {
    const t = load(file);
    if ('errors' in t) {
      for (const e of t.errors) err(e);
      code = 2;
      continue;
    }
    const r = await conform(t.test, { backend, profile, runs: o.runs, jobs: o.jobs, emitAsm: o.emitAsm, file, ...compileOptions(o.settleUs) });
    if (o.json) print(conformJson(r));
    else for (const line of formatConform(r)) print(line);
    if (files.length > 1 && !o.json) print('');
    if (r.status === 'ran' && r.forbidden > 0) code = Math.max(code, 1);
    else if (r.status === 'error') code = Math.max(code, 1);
    else if (r.status === 'refused' || r.status === 'unavailable') code = 2;
  }
  return code;
}

export interface SuiteOnOptions {
  on: string;
  runs?: number;
  jobs?: number;
  junit?: string;
  /** Write the suite's report (src/backends/report.ts, schema lapis-suite/1) here. */
  json?: string;
  profile?: string | Profile;
  /** Only files whose name matches (seeds: `seed-NNN-*.litmus`). */
  filter?: RegExp;
  kind?: SuiteJson['kind'];
  /** Print each test's full litmus7-style report, not one line (seeds). */
  full?: boolean;
  /** Print only the tests with a FORBIDDEN outcome, an error or no completed run. */
  failuresOnly?: boolean;
  shard?: Shard;
  /** The guest's quiet time, µs (CompileOptions.settleUs). */
  settleUs?: number;
}

function compileOptions(settleUs: number | undefined): { compile?: { settleUs: number } } {
  return settleUs === undefined ? {} : { compile: { settleUs } };
}

/** The i-th of n slices of a suite's files (1-based; sorted by name, file k goes to shard k mod n + 1). */
export interface Shard {
  index: number;
  count: number;
}

export function inShard(k: number, shard: Shard | undefined): boolean {
  return shard === undefined || k % shard.count === shard.index - 1;
}

/** A test that failed on the machine: a FORBIDDEN outcome, an error, or no completed run. */
function failedOn(r: ConformResult): boolean {
  return r.status === 'error' || r.status === 'unavailable' || (r.status === 'ran' && (r.forbidden > 0 || r.completed === 0));
}

export interface SuiteOutcome {
  code: number;
  report: SuiteJson | null;
}

/** `lapis suite DIR --on BACKEND`: every *.litmus file, refused (with the reason) or run and judged; a table and
 *  the totals. Returns the exit code: 1 when any run produced a FORBIDDEN outcome. */
export async function suiteOn(dir: string, o: SuiteOnOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  return (await suiteReport(dir, o, print, err)).code;
}

/** `lapis seeds --on BACKEND`: the seed scenarios (`seed-NNN-*.litmus` in the catalog), each run and judged like
 *  `run --on` (its full report), or refused with the reason; then the totals. */
export async function seedsOn(dir: string, o: SuiteOnOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  return (await suiteReport(dir, { ...o, filter: SEED_FILE, kind: 'seeds', full: true }, print, err)).code;
}

export const SEED_FILE = /^seed-\d{3}-.*\.litmus$/;

/** The suite as suiteOn runs it, with its report (null on a usage error). */
export async function suiteReport(dir: string, o: SuiteOnOptions, print: (s: string) => void, err: (s: string) => void): Promise<SuiteOutcome> {
  const backend = backendOrError(o.on, err);
  const profile = profileOrError(o.profile, err);
  if (!backend || !profile) return { code: 2, report: null };
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.litmus') && (!o.filter || o.filter.test(f))).sort()
      .filter((_, k) => inShard(k, o.shard));
  } catch (e) {
    err(`lapis: ${dir}: ${(e as Error).message}`);
    return { code: 2, report: null };
  }
  if (o.json !== undefined && o.json === '') {
    err('lapis: --json needs a file name');
    return { code: 2, report: null };
  }
  const started = new Date();
  const jobs = Math.max(1, o.jobs ?? 1);
  const runs = Math.max(1, o.runs ?? DEFAULT_RUNS);
  const results: ConformResult[] = [];
  const tests: TestJson[] = [];
  let parseErrors = 0;
  for (const f of files) {
    let t: ReturnType<typeof load>;
    try {
      t = load(join(dir, f));
    } catch (e) {
      // A reader's own failure is this test's error, not the end of the suite.
      const reason = `reading the test: ${(e as Error).message}`;
      err(`lapis: ${f}: ${reason}`);
      const r: ConformResult = { status: 'error', test: f.replace(/\.litmus$/, ''), file: f, backend: backend.name, reason };
      results.push(r);
      tests.push(testJson(f, r));
      if (!o.failuresOnly || failedOn(r)) print(suiteLine(f, r));
      continue;
    }
    if ('errors' in t) {
      for (const e of t.errors) err(e);
      tests.push(parseErrorJson(f, t.errors));
      parseErrors++;
      continue;
    }
    const r = await conform(t.test, { backend, profile, runs, jobs, file: f, ...compileOptions(o.settleUs) });
    results.push(r);
    tests.push(testJson(f, r));
    if (o.full) {
      for (const line of formatConform(r)) print(line);
      print('');
    } else if (!o.failuresOnly || failedOn(r)) print(suiteLine(f, r));
  }
  const ran = results.filter((r) => r.status === 'ran');
  const refused = results.filter((r) => r.status === 'refused');
  const forbidden = ran.filter((r) => r.status === 'ran' && r.forbidden > 0);
  const errors = results.filter((r) => r.status === 'error' || r.status === 'unavailable');
  if (!o.full) print('');
  print(`${results.length} tests on ${backend.name} (judged by ${profile.name}): ${ran.length} run, ${refused.length} refused${errors.length > 0 ? `, ${errors.length} error(s)` : ''}; ${forbidden.length} with FORBIDDEN outcomes`);
  if (o.full) {
    for (const line of table(results)) print(line);
  } else {
    for (const r of forbidden) if (r.status === 'ran') for (const line of formatConform(r)) print(`  ${line}`);
  }
  const report: SuiteJson = {
    schema: SUITE_SCHEMA, kind: o.kind ?? 'suite', backend: backendInfo(backend), profile: profile.name, runsPerTest: runs, jobs,
    dir, host: hostInfo(), started: started.toISOString(), elapsedMs: Date.now() - started.getTime(), tests,
    ...(o.shard ? { shard: `${o.shard.index}/${o.shard.count}` } : {}),
    ...(o.settleUs !== undefined ? { settleUs: o.settleUs } : {}),
  };
  try {
    if (o.junit) writeFileSync(o.junit, junit(results, backend.name));
    if (o.json) writeFileSync(o.json, suiteJsonText(report));
  } catch (e) {
    err(`lapis: ${(e as Error).message}`);
    return { code: 2, report };
  }
  if (parseErrors > 0) return { code: 2, report };
  return { code: forbidden.length > 0 || errors.length > 0 ? 1 : 0, report };
}

/** The seeds' summary: per test, refused (why) or the answer on the runs and the verdict. */
function table(results: ConformResult[]): string[] {
  const rows = [['test', `on ${results[0]?.backend ?? '-'}`, 'verdict']];
  for (const r of results) {
    if (r.status === 'ran' && r.completed === 0) rows.push([r.test, 'no run completed', `${r.hung} hung, ${r.crashed} crashed, ${r.unreadable} unreadable, ${r.timedOut} timed out`]);
    else if (r.status === 'ran') rows.push([r.test, `${r.ok ? 'Ok' : 'No'} (${r.observation.toLowerCase()} ${r.witnesses.positive}/${r.completed})`, r.forbidden > 0 ? `FORBIDDEN ${r.forbidden}/${r.completed}` : 'allowed']);
    else if (r.status === 'refused') rows.push([r.test, 'refused', `${r.refusal.construct}: ${r.refusal.reason}`]);
    else rows.push([r.test, r.status, r.reason]);
  }
  const widths = [0, 1].map((c) => Math.max(...rows.map((r) => r[c].length)));
  return ['', ...rows.map((r) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`.trimEnd())];
}

export function suiteLine(file: string, r: ConformResult): string {
  const name = file.padEnd(48);
  switch (r.status) {
    case 'refused':
      return `${name} refused${r.refusal.backend ? ' (backend)' : ''}: ${r.refusal.construct}: ${r.refusal.reason}`;
    case 'unavailable':
      return `${name} unavailable: ${r.reason}`;
    case 'error':
      return `${name} ERROR: ${r.reason}`;
    case 'ran': {
      const fails = r.hung + r.crashed + r.unreadable + r.timedOut;
      const failText = fails > 0 ? `, ${r.hung} hung, ${r.crashed} crashed, ${r.unreadable} unreadable, ${r.timedOut} timed out` : '';
      // A test with no completed run has no verdict: its runs all hung, crashed, timed out or could not be read.
      const verdict = r.forbidden > 0 ? `FORBIDDEN ${r.forbidden}/${r.completed}` : r.completed === 0 ? 'NO RUN' : 'ok';
      const seen = `${r.outcomes.length} outcome(s) observed, model allows ${r.model.allowed.length}${r.model.error ? ` (model: ${r.model.error})` : ''}`;
      return `${name} ${verdict.padEnd(16)} ${r.completed} runs${failText}; ${seen}; ${r.runsPerSecond} runs/s`;
    }
  }
}

function junit(results: ConformResult[], backend: string): string {
  return junitXml(`lapis-conformance-${backend}`, results.map((r): JunitCase => {
    const c: JunitCase = { classname: `conformance.${backend}`, name: r.file ?? r.test, ms: r.status === 'ran' ? r.ms : undefined };
    if (r.status === 'refused') c.skipped = `${r.refusal.construct}: ${r.refusal.reason}`;
    else if (r.status === 'unavailable' || r.status === 'error') c.error = r.reason;
    else if (r.forbidden > 0) c.failure = `${r.forbidden} run(s) FORBIDDEN by ${r.profile}`;
    return c;
  }));
}
