// `lapis kut [TEST...] --on BACKEND[,BACKEND...]`: kvm-unit-tests (src/backends/kut.ts) on QEMU backends; a text
// report per test and backend, `--json` one object each, `--markdown` one table per test with a column per backend
// (docs/kvm-unit-tests.md is made with it). Exit codes: 0 every test passed (or skipped every check), 1 a test
// failed, aborted, timed out, crashed or its table disagrees with its SUMMARY line, 2 a usage error or a backend
// or build not available here.

import type { Command } from 'commander';
import { formatKut, formatSummary, KUT_BACKENDS, KUT_DEFAULT_TESTS, loadKutConfig, runKut, tableSummary, type KutResult } from '../backends/kut.js';

interface KutOptions {
  on: string;
  json?: boolean;
  markdown?: boolean;
  only?: string;
  timeout?: string;
  env?: string[];
}

/** Checks keyed by name and occurrence (`name`, `name#2`, ...), in an order that keeps each backend's order. */
function mergedKeys(results: KutResult[], only: RegExp | null): string[] {
  const keys: string[] = [];
  for (const r of results) {
    const seen = new Map<string, number>();
    let at = 0;
    for (const c of r.checks) {
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      if (only && !only.test(c.name)) continue;
      const k = n === 1 ? c.name : `${c.name}#${n}`;
      const i = keys.indexOf(k);
      if (i < 0) keys.splice(at++, 0, k);
      else at = i + 1;
    }
  }
  return keys;
}

function cellOf(r: KutResult, key: string): string {
  const [name, nth] = /#\d+$/.test(key) ? [key.replace(/#\d+$/, ''), Number(key.split('#').pop())] : [key, 1];
  const hit = r.checks.filter((c) => c.name === name)[nth - 1];
  if (hit) return hit.result === 'PASS' ? 'PASS' : `**${hit.result}**`;
  if (r.status === 'unavailable') return '';
  return 'not reached';
}

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One Markdown table: a row per check, a column per backend; then the guest's SUMMARY line, whether the table's
 *  counts equal it, and how the run ended. */
export function kutMarkdown(test: string, results: KutResult[], only: RegExp | null): string[] {
  const keys = mergedKeys(results, only);
  const lines = [`| # | ${test}: check | ${results.map((r) => r.backend).join(' | ')} |`, `|---|---|${results.map(() => '---|').join('')}`];
  keys.forEach((k, i) => lines.push(`| ${i + 1} | ${md(k.replace(/#(\d+)$/, ' (#$1)'))} | ${results.map((r) => cellOf(r, k)).join(' | ')} |`));
  const row = (label: string, f: (r: KutResult) => string): void => {
    lines.push(`| | *${label}* | ${results.map((r) => md(r.status === 'unavailable' ? `not run here: ${r.reason}` : f(r))).join(' | ')} |`);
  };
  if (only) row(`checks shown (${md(only.source)})`, (r) => formatSummary(tableSummary(r.checks.filter((c) => only.test(c.name)))));
  row('SUMMARY line (guest)', (r) => (r.summary ? formatSummary(r.summary) : 'none'));
  row('table = SUMMARY', (r) => (r.consistent === null ? '-' : r.consistent ? 'yes' : '**NO**'));
  row('result', (r) => `${r.status}${r.reason ? `: ${r.reason}` : ''}`);
  return lines;
}

export function registerKut(program: Command): void {
  program
    .command('kut')
    .description(`run kvm-unit-tests (unittests.cfg tests; default ${KUT_DEFAULT_TESTS.join(', ')}) on QEMU backends, every check in a table`)
    .argument('[tests...]')
    .requiredOption('--on <backends>', `comma-separated: ${KUT_BACKENDS.join(', ')}`)
    .option('--json', 'one JSON object per test and backend')
    .option('--markdown', 'one Markdown table per test, a column per backend')
    .option('--only <regex>', 'with --markdown: only the checks whose name matches')
    .option('--timeout <seconds>', "each test's limit from its first output (default: unittests.cfg's)")
    .option('--env <KEY=VALUE...>', "more of the guest's environment (e.g. TEST_DEVICE=0: no KVM test device)")
    .action(async (tests: string[], o: KutOptions) => {
      process.exitCode = await kutCommand(tests, o, (s) => console.log(s), (s) => console.error(s));
    });
}

export async function kutCommand(tests: string[], o: KutOptions, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const backends = o.on.split(',').map((s) => s.trim()).filter((s) => s);
  const bad = backends.filter((b) => !(KUT_BACKENDS as readonly string[]).includes(b));
  if (bad.length > 0 || backends.length === 0) {
    err(`lapis kut: --on takes ${KUT_BACKENDS.join(', ')} (got ${o.on})`);
    return 2;
  }
  let only: RegExp | null = null;
  try {
    only = o.only !== undefined ? new RegExp(o.only) : null;
  } catch (e) {
    err(`lapis kut: --only: ${(e as Error).message}`);
    return 2;
  }
  const timeoutS = o.timeout !== undefined ? Number(o.timeout) : undefined;
  if (timeoutS !== undefined && !(timeoutS > 0)) {
    err('lapis kut: --timeout must be a positive number of seconds');
    return 2;
  }
  const env: Record<string, string> = {};
  for (const kv of o.env ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv);
    if (!m) {
      err(`lapis kut: --env takes KEY=VALUE (got ${kv})`);
      return 2;
    }
    env[m[1]] = m[2];
  }
  const cfg = loadKutConfig();
  if (!cfg.ok) {
    err(`lapis kut: ${cfg.reason}`);
    return 2;
  }
  const names = tests.length > 0 ? tests : [...KUT_DEFAULT_TESTS];
  const unknown = names.filter((n) => !cfg.tests.has(n));
  if (unknown.length > 0) {
    err(`lapis kut: no test ${unknown.join(', ')} in unittests.cfg`);
    return 2;
  }
  let failed = false;
  let notRun = false;
  for (const name of names) {
    const results: KutResult[] = [];
    for (const b of backends) {
      const r = await runKut(name, b, { timeoutS, env });
      results.push(r);
      if (r.status === 'unavailable') notRun = true;
      else if (!(r.status === 'passed' || r.status === 'skipped') || r.consistent === false) failed = true;
      if (o.json) print(JSON.stringify(r));
      else if (!o.markdown) for (const l of formatKut(r)) print(l);
      if (r.status === 'unavailable') err(`NOT RUN: kvm-unit-tests ${name} on ${b}: ${r.reason}`);
    }
    if (o.markdown) print([`### ${name}`, '', ...kutMarkdown(name, results, only), ''].join('\n'));
  }
  return failed ? 1 : notRun ? 2 : 0;
}
