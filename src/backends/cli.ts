// The command line's conformance commands (src/cli/main.ts calls these when `--on BACKEND` is given):
// `lapis run FILE... --on BACKEND` and `lapis suite DIR --on BACKEND`. Exit codes: 0 nothing FORBIDDEN, 1 a
// FORBIDDEN outcome (or a run error), 2 a usage or parse error, an unknown or unavailable backend, or (run) a
// refused test.

import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LitmusTest } from '../litmus/ast.js';
import { loadLitmus } from '../litmus/check.js';
import { findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { BACKEND_NAMES, getBackend, type Backend } from './backends.js';
import { conform, conformJson, formatConform, DEFAULT_RUNS, type ConformResult } from './conform.js';

export interface RunOnOptions {
  on: string;
  runs?: number;
  jobs?: number;
  emitAsm?: string;
  profile?: string;
  json?: boolean;
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

function profileOrError(name: string | undefined, err: (s: string) => void): Profile | null {
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
    const r = await conform(t.test, { backend, profile, runs: o.runs, jobs: o.jobs, emitAsm: o.emitAsm, file });
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
  profile?: string;
}

/** `lapis suite DIR --on BACKEND`: every *.litmus file, refused (with the reason) or run and judged; a table and
 *  the totals. Returns the exit code: 1 when any run produced a FORBIDDEN outcome. */
export async function suiteOn(dir: string, o: SuiteOnOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const backend = backendOrError(o.on, err);
  const profile = profileOrError(o.profile, err);
  if (!backend || !profile) return 2;
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.litmus')).sort();
  } catch (e) {
    err(`lapis: ${dir}: ${(e as Error).message}`);
    return 2;
  }
  const jobs = o.jobs ?? 1;
  const results: ConformResult[] = [];
  let parseErrors = 0;
  for (const f of files) {
    const t = load(join(dir, f));
    if ('errors' in t) {
      for (const e of t.errors) err(e);
      parseErrors++;
      continue;
    }
    const r = await conform(t.test, { backend, profile, runs: o.runs ?? DEFAULT_RUNS, jobs, file: f });
    results.push(r);
    print(suiteLine(f, r));
  }
  const ran = results.filter((r) => r.status === 'ran');
  const refused = results.filter((r) => r.status === 'refused');
  const forbidden = ran.filter((r) => r.status === 'ran' && r.forbidden > 0);
  const errors = results.filter((r) => r.status === 'error' || r.status === 'unavailable');
  print('');
  print(`${results.length} tests on ${backend.name} (judged by ${profile.name}): ${ran.length} run, ${refused.length} refused${errors.length > 0 ? `, ${errors.length} error(s)` : ''}; ${forbidden.length} with FORBIDDEN outcomes`);
  for (const r of forbidden) if (r.status === 'ran') for (const line of formatConform(r)) print(`  ${line}`);
  if (o.junit) writeFileSync(o.junit, junit(results, backend.name));
  if (parseErrors > 0) return 2;
  return forbidden.length > 0 || errors.length > 0 ? 1 : 0;
}

function suiteLine(file: string, r: ConformResult): string {
  const name = file.padEnd(48);
  switch (r.status) {
    case 'refused':
      return `${name} refused${r.refusal.backend ? ' (backend)' : ''}: ${r.refusal.construct}: ${r.refusal.reason}`;
    case 'unavailable':
      return `${name} unavailable: ${r.reason}`;
    case 'error':
      return `${name} ERROR: ${r.reason}`;
    case 'ran': {
      const fails = r.hung + r.crashed + r.unreadable;
      const failText = fails > 0 ? `, ${r.hung} hung, ${r.crashed} crashed, ${r.unreadable} unreadable` : '';
      const verdict = r.forbidden > 0 ? `FORBIDDEN ${r.forbidden}/${r.completed}` : 'ok';
      const seen = `${r.outcomes.length} outcome(s) observed, model allows ${r.model.allowed.length}${r.model.error ? ` (model: ${r.model.error})` : ''}`;
      return `${name} ${verdict.padEnd(16)} ${r.completed} runs${failText}; ${seen}; ${r.runsPerSecond} runs/s`;
    }
  }
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function junit(results: ConformResult[], backend: string): string {
  const cases = results.map((r) => {
    const head = `  <testcase classname="conformance.${xml(backend)}" name="${xml(r.file ?? r.test)}"${r.status === 'ran' ? ` time="${(r.ms / 1000).toFixed(3)}"` : ''}>`;
    if (r.status === 'refused') return `${head}<skipped message="${xml(`${r.refusal.construct}: ${r.refusal.reason}`)}"/></testcase>`;
    if (r.status === 'unavailable' || r.status === 'error') return `${head}<error message="${xml(r.reason)}"/></testcase>`;
    if (r.forbidden > 0) return `${head}<failure message="${xml(`${r.forbidden} run(s) FORBIDDEN by ${r.profile}`)}"/></testcase>`;
    return `${head}</testcase>`;
  });
  const failures = results.filter((r) => r.status === 'ran' && r.forbidden > 0).length;
  const skipped = results.filter((r) => r.status === 'refused').length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="lapis-conformance-${xml(backend)}" tests="${results.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n</testsuite>\n`;
}
