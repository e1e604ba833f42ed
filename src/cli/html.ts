// lapis run FILE --html OUT: one self-contained page (no server, no other file) with the test, its answer and a
// shortest run to each outcome; the page's own engine (the built worker, inlined) replays those runs into its
// diagrams and can run the test again. Built from dist-web/ (`npm run web:build`).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadTest, UsageError } from './run.js';
import { profileNamed, runTest } from '../explore/run.js';
import { HostError } from '../arch/errors.js';
import { shortestWitness } from '../explore/witness.js';
import { sortOutcomes } from '../explore/answer.js';
import { formatValue } from '../sim/sim.js';
import { checkWebDir, webDir } from './view.js';

/** The page's data (web/src/types.ts PageData, schema lapis-page/1). */
export interface PageData {
  schema: 'lapis-page/1';
  file: string;
  text: string;
  profile: string;
  answer: object;
  witnesses: Record<string, number[]>;
}

interface RunOpts {
  profile: string;
  maxStates?: number;
  maxDepth?: number;
  timeout?: number;
  por: boolean;
  on?: string;
  random?: number;
  html?: string;
}

export function pageData(file: string, o: RunOpts): PageData {
  const t = loadTest(file);
  if ('errors' in t) throw new UsageError(t.errors.join('\n'));
  let profile;
  try {
    profile = profileNamed(o.profile);
  } catch (e) {
    throw e instanceof HostError ? new UsageError(e.message) : e;
  }
  const r = runTest(t.test, profile, { maxStates: o.maxStates, maxDepth: o.maxDepth, timeoutMs: o.timeout !== undefined ? o.timeout * 1000 : undefined, por: o.por });
  const { result, sim } = r;
  if (!result || !sim) throw new UsageError(`${file}: ${r.answer.test} is Unsupported under profile ${profile.name}: no page to write`);
  const outcomes = sortOutcomes(result.outcomes);
  const witnesses: Record<string, number[]> = {};
  for (const x of outcomes) witnesses[x.key] = shortestWitness(sim, x.key, Math.max(result.states * 2, 1000)) ?? x.witness;
  const a = r.answer;
  const answer = {
    test: a.test, profile: a.profile, condition: a.condition, ok: a.ok, observation: a.observation,
    outcomes: outcomes.map((x) => ({ key: x.key, values: Object.fromEntries(Object.entries(x.values).map(([k, v]) => [k, formatValue(v)])), satisfies: x.satisfies, count: x.count, witness: witnesses[x.key] })),
    witnesses: a.witnesses, complete: a.complete, cutBy: a.cutBy, nonTerminating: a.nonTerminating, nonTerminatingWitness: null,
    states: a.states, finals: a.finals, ms: a.ms,
  };
  return { schema: 'lapis-page/1', file, text: readFileSync(file, 'utf8'), profile: profile.name, answer, witnesses };
}

/** Text that may sit inside a <script> element: no `</script` and no `<!--` (a JS-equivalent escape). */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** dist-web/index.html with its script, style and worker inlined and the data embedded. */
export function renderPage(dir: string, data: PageData): string {
  checkWebDir(dir);
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  const script = /<script type="module"[^>]*src="\.\/(assets\/[^"]+\.js)"[^>]*><\/script>/.exec(html);
  const style = /<link rel="stylesheet"[^>]*href="\.\/(assets\/[^"]+\.css)"[^>]*>/.exec(html);
  if (!script || !style) throw new UsageError(`${dir}/index.html is not the built page (npm run web:build)`);
  const js = readFileSync(join(dir, script[1]), 'utf8');
  const worker = /worker-[\w-]+\.js/.exec(js);
  if (!worker) throw new UsageError(`${join(dir, script[1])} names no worker script: rebuild with npm run web:build`);
  const workerJs = readFileSync(join(dir, 'assets', worker[0]), 'utf8');
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const title = `<title>${String((data.answer as { test: string }).test).replace(/[<&]/g, '')} · lapis</title>`;
  html = html.replace(/<title>[^<]*<\/title>/, title);
  // Function replacements: the inlined text may contain `$&` and the like.
  html = html.replace(style[0], () => `<style>${readFileSync(join(dir, style[1]), 'utf8').replace(/<\/(style)/gi, '<\\/$1')}</style>`);
  html = html.replace(script[0], () => [
    `<script type="application/json" id="lapis-page-data">${json}</script>`,
    `<script type="text/plain" id="lapis-worker-src">${scriptSafe(workerJs)}</script>`,
    `<script type="module">${scriptSafe(js)}</script>`,
  ].join('\n'));
  return html;
}

/** Adds `--html FILE` to `lapis run`: after the answer is printed, the page is written. */
export function registerHtml(program: Command): void {
  const run = program.commands.find((c) => c.name() === 'run');
  if (!run) return;
  run.option('--html <file>', 'also write one self-contained page with the answer and the diagrams of its runs (needs npm run web:build)');
  run.hook('postAction', (cmd) => {
    const o = cmd.opts<RunOpts>();
    // A test that did not parse has had its errors printed; there is no page to write.
    if (o.html === undefined || process.exitCode === 2) return;
    if (o.on !== undefined || o.random !== undefined) throw new UsageError('--html shows an exhaustive run on the model: not with --on or --random');
    if (cmd.args.length !== 1) throw new UsageError('--html writes the page of one test: give one file');
    const dir = webDir();
    checkWebDir(dir);
    writeFileSync(o.html, renderPage(dir, pageData(cmd.args[0], o)));
    console.error(`lapis: wrote ${o.html}`);
  });
}
