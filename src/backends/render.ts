// CONFORMANCE.md from suite reports (report.ts) and the explanations file (explain.ts): the machine, the backends and
// their versions, the summary, refusals by reason, results per test x backend, the seed scenarios, and every FORBIDDEN
// outcome with its explanation. Deterministic: the same reports and explanations give the same bytes (no clock, no
// environment; every list sorted).

import { PROFILES } from '../sim/profiles.js';
import { BACKEND_NAMES } from './backends.js';
import { explain, matches, type Classification, type Explanation } from './explain.js';
import { categoryById, cmp, testId, type SuiteJson, type TestJson } from './report.js';
import { frequencyText } from './stats.js';

export interface RenderInput {
  reports: SuiteJson[];
  explanations: Explanation[];
  /** Markdown placed after the summary (conformance/notes.md), or null. */
  notes: string | null;
  /** The decisions docs/decisions.md has (`D-1`, ...), to check the explanations' references; null: not checked. */
  decisions: Set<string> | null;
}

/** One FORBIDDEN outcome of one test on one backend. */
export interface Occurrence {
  backend: string;
  test: string;
  key: string;
  count: number;
  completed: number;
  allowedBy: string[];
}

export interface Rendered {
  text: string;
  unexplained: Occurrence[];
  /** Explanations that matched no FORBIDDEN outcome although a backend they name is in the reports, with why. */
  stale: { id: string; why: string }[];
  /** Explanations only for backends not in these reports (not checked). */
  uncovered: { id: string; why: string }[];
  /** Problems with the explanations themselves (an unknown profile or decision, a profile claim the reports do
   *  not bear out). */
  warnings: string[];
}

interface Merged {
  /** The column: the backend, and the host when the reports come from several. */
  name: string;
  backend: string;
  reports: SuiteJson[];
  tests: Map<string, TestJson>;
}

/** What tells hosts apart: reports from machines alike in these (shards of one campaign) share a column; so do
 *  only reports run with the same quiet time (`--settle`): a longer one changes what a starved vCPU can do. */
function hostKey(r: SuiteJson): string {
  return `${r.host.cpus} CPUs (${r.host.cpuModel}), Linux ${r.host.kernel}, ${r.host.arch}${r.settleUs !== undefined ? `, quiet time ${r.settleUs} µs` : ''}`;
}

/** The hosts of the reports, sorted; H1, H2, ... in CONFORMANCE.md when there are several. */
function hostsOf(reports: SuiteJson[]): string[] {
  return [...new Set(reports.map(hostKey))].sort();
}

/** Reports per backend (and host, when they come from several), in the order of BACKEND_NAMES (unknown names
 *  after, sorted); a test in two reports of one column: the result of the report that started later (whatever the
 *  order the reports were given in), so shards and re-runs of one host merge. */
function merge(reports: SuiteJson[]): Merged[] {
  const hosts = hostsOf(reports);
  const by = new Map<string, Merged>();
  const ordered = reports.map((r, i) => ({ r, i })).sort((a, b) => cmp(a.r.started, b.r.started) || a.i - b.i).map((x) => x.r);
  for (const r of ordered) {
    const h = hosts.indexOf(hostKey(r));
    const name = hosts.length > 1 ? `${r.backend.name} on H${h + 1}` : r.backend.name;
    let m = by.get(name);
    if (!m) {
      m = { name, backend: r.backend.name, reports: [], tests: new Map() };
      by.set(name, m);
    }
    m.reports.push(r);
    for (const t of r.tests) m.tests.set(t.file, t);
  }
  const rank = (n: string): number => {
    const i = (BACKEND_NAMES as readonly string[]).indexOf(n);
    return i < 0 ? BACKEND_NAMES.length : i;
  };
  return [...by.values()].sort((a, b) => rank(a.backend) - rank(b.backend) || cmp(a.backend, b.backend) || cmp(a.name, b.name));
}

const md = (s: string): string => s.replace(/\|/g, '\\|');
const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

function classificationText(c: Classification): string {
  switch (c.kind) {
    case 'backend-bug': return `**backend bug** (${c.reference})`;
    case 'profile': return `**reproduced by a profile**: ${c.profiles.map(code).join(', ')}`;
    case 'decision': return `**model decision** ${c.decision} (docs/decisions.md)`;
    case 'profile-gap': return `**profile gap**: ${code(c.profile)} does not reproduce it`;
    case 'runner': return `**the runner, not the backend** (${c.reference})`;
    case 'not-established': return '**not established**';
  }
}

const KIND_LABEL: Record<Classification['kind'], string> = {
  'backend-bug': 'backend bugs',
  profile: 'backend behaviour an implementation profile of the model reproduces',
  decision: 'model decisions the backends do not follow (docs/decisions.md)',
  'profile-gap': 'profile gaps to fix in the model',
  runner: 'limits of the conformance runner, not the backend (docs/conformance.md)',
  'not-established': 'not established',
};

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function renderConformance(input: RenderInput): Rendered {
  const backends = merge(input.reports);
  const names = backends.map((b) => b.name);
  const out: string[] = [];
  const p = (...lines: string[]): void => {
    out.push(...lines);
  };
  const warnings: string[] = [];
  const profileNames = new Set(PROFILES.map((x) => x.name));

  // Every FORBIDDEN outcome and the explanations that match it.
  const occurrences: { occ: Occurrence; by: Explanation[] }[] = [];
  for (const b of backends) {
    for (const t of [...b.tests.values()].sort((x, y) => cmp(x.file, y.file))) {
      if (t.status !== 'ran') continue;
      for (const o of t.outcomes) {
        if (o.verdict !== 'FORBIDDEN') continue;
        const occ = { backend: b.name, test: testId(t.file), key: o.key, count: o.count, completed: t.completed, allowedBy: o.allowedBy };
        occurrences.push({ occ, by: explain(input.explanations, occ.test, b.backend, occ.key) });
      }
    }
  }
  const unexplained = occurrences.filter((x) => x.by.length === 0).map((x) => x.occ);
  const used = new Map<string, Occurrence[]>();
  for (const x of occurrences) for (const e of x.by) used.set(e.id, [...(used.get(e.id) ?? []), x.occ]);
  const explained = input.explanations.filter((e) => used.has(e.id));
  const stale: Rendered['stale'] = [];
  const uncovered: Rendered['uncovered'] = [];
  for (const e of input.explanations) {
    if (used.has(e.id)) continue;
    const why = e.match.map((m) => staleWhy(m, backends)).join('; ');
    const covered = e.match.some((m) => backends.some((b) => m.backends === null || m.backends.includes(b.backend)));
    (covered ? stale : uncovered).push({ id: e.id, why });
  }
  for (const e of input.explanations) {
    for (const c of e.classification) {
      if (c.kind === 'profile') {
        for (const pr of c.profiles) if (!profileNames.has(pr)) warnings.push(`${e.id}: unknown profile ${pr}`);
        for (const o of used.get(e.id) ?? []) {
          if (!c.profiles.some((pr) => o.allowedBy.includes(pr))) warnings.push(`${e.id}: says ${c.profiles.join(', ')} reproduce it, but ${o.test} on ${o.backend} (${o.key}) is allowed by ${o.allowedBy.length > 0 ? o.allowedBy.join(', ') : 'no profile'}`);
        }
      }
      if (c.kind === 'profile-gap' && !profileNames.has(c.profile)) warnings.push(`${e.id}: unknown profile ${c.profile}`);
      if (c.kind === 'decision' && input.decisions && !input.decisions.has(c.decision)) warnings.push(`${e.id}: ${c.decision} is not in docs/decisions.md`);
    }
  }
  const anchorOf = (t: TestJson, backend: string): string[] => {
    const ids = new Set<string>();
    let missing = false;
    for (const o of t.outcomes) {
      if (o.verdict !== 'FORBIDDEN') continue;
      const by = explain(input.explanations, testId(t.file), backend, o.key);
      if (by.length === 0) missing = true;
      for (const e of by) ids.add(e.id);
    }
    const links = input.explanations.filter((e) => ids.has(e.id)).map((e) => `[${e.id}](#${e.id.toLowerCase()})`);
    return missing ? [...links, '**UNEXPLAINED**'] : links;
  };

  // Head.
  p('# Conformance: the litmus catalog on real machines', '');
  p('<!-- Generated by `lapis conformance` (docs/conformance.md, "Conformance runs") from suite reports and',
    '     conformance/explanations.json: edit those, not this file, and re-render. -->', '');
  p('Every test in the catalog compiled into a guest (`src/backends/compile.ts`), run on each backend and every observed',
    "outcome judged by the model's profile (`lapis suite litmus --on BACKEND`; docs/conformance.md says how a run works,",
    'what is inferred and what is refused). An outcome the model does not allow is **FORBIDDEN**: a backend bug, or a',
    'gap or decision of the model; each is explained below, with the profiles that do allow it.', '');
  const hosts = hostsOf(input.reports);
  if (hosts.length > 1) p(`Hosts (a column per backend and host): ${hosts.map((h, i) => `H${i + 1}: ${h}`).join('; ')}.`, '');
  else p(`Machine: ${hosts.join('; ') || '(no reports)'}.`, '');
  p('| backend | version | what it is | runs per test | jobs | judged by | run on | took |', '|---|---|---|---|---|---|---|---|');
  for (const b of backends) {
    const last = b.reports[b.reports.length - 1];
    const runs = [...new Set(b.reports.map((r) => r.runsPerTest))].sort((x, y) => x - y).join(', ');
    const jobs = [...new Set(b.reports.map((r) => r.jobs))].sort((x, y) => x - y).join(', ');
    const prof = [...new Set(b.reports.map((r) => r.profile))].sort().join(', ');
    const dates = [...new Set(b.reports.map((r) => r.started.slice(0, 10)))].sort().join(', ');
    const took = b.reports.reduce((n, r) => n + r.elapsedMs, 0);
    p(`| ${b.name} | ${md(last.backend.version)} | ${md(last.backend.description)} | ${runs} | ${jobs} | ${prof} | ${dates} | ${formatDuration(took)} |`);
  }
  p('');

  // Summary.
  p('## Summary', '');
  p('| backend | tests run | refused | every outcome allowed | with a FORBIDDEN outcome | errors, or no run completed | runs | hung | crashed | unreadable |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const b of backends) {
    const ts = [...b.tests.values()];
    const ran = ts.filter((t) => t.status === 'ran');
    const sum = (f: (t: TestJson) => number): number => ran.reduce((n, t) => n + f(t), 0);
    const errors = ts.filter((t) => t.status === 'error' || t.status === 'unavailable' || t.status === 'parse-error' || (t.status === 'ran' && t.completed === 0)).length;
    p(`| ${b.name} | ${ran.length} | ${ts.filter((t) => t.status === 'refused').length} | ${ran.filter((t) => t.forbidden === 0 && t.completed > 0).length} | ${ran.filter((t) => t.forbidden > 0).length} | ${errors} | ${sum((t) => t.runs)} | ${sum((t) => t.hung)} | ${sum((t) => t.crashed)} | ${sum((t) => t.unreadable)} |`);
  }
  p('');
  if (occurrences.length === 0) p('No FORBIDDEN outcome.', '');
  else {
    p(`${plural(occurrences.length, 'distinct FORBIDDEN outcome')} (an outcome of a test on a backend; a count that varies run to run makes many), ${plural(explained.length, 'explanation')} below:`, '');
    for (const kind of Object.keys(KIND_LABEL) as Classification['kind'][]) {
      const ids = explained.filter((e) => e.classification.some((c) => c.kind === kind)).map((e) => `[${e.id}](#${e.id.toLowerCase()})`);
      if (ids.length > 0) p(`- ${KIND_LABEL[kind]}: ${ids.join(', ')};`);
    }
    p(`- **UNEXPLAINED**: ${unexplained.length === 0 ? 'none.' : `${plural(unexplained.length, 'outcome')}, [below](#unexplained-forbidden-outcomes).`}`, '');
  }
  if (input.notes !== null && input.notes.trim() !== '') p(input.notes.trim(), '');

  if (unexplained.length > 0) {
    p('## UNEXPLAINED FORBIDDEN outcomes', '');
    p('No entry of conformance/explanations.json matches these: explain each (docs/conformance.md, "The explanations file").', '');
    p(...occurrenceLines(unexplained, '**UNEXPLAINED** '));
    p('');
  }

  // Refusals.
  p('## Refused, by reason', '');
  const cats = new Map<string, Map<string, number>>();
  for (const b of backends) {
    for (const t of b.tests.values()) {
      if (t.status !== 'refused' || !t.refusal) continue;
      const m = cats.get(t.refusal.category) ?? new Map<string, number>();
      m.set(b.name, (m.get(b.name) ?? 0) + 1);
      cats.set(t.refusal.category, m);
    }
  }
  if (cats.size === 0) p('Nothing was refused.', '');
  else {
    p(`| reason (docs/conformance.md, "Refused") | ${names.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`);
    const total = (m: Map<string, number>): number => [...m.values()].reduce((n, x) => n + x, 0);
    const rows = [...cats.entries()].sort((a, b) => total(b[1]) - total(a[1]) || cmp(categoryById(a[0]).label, categoryById(b[0]).label));
    for (const [id, m] of rows) p(`| ${md(categoryById(id).label)} | ${names.map((n) => String(m.get(n) ?? 0)).join(' | ')} |`);
    p('');
    const byBackend: string[] = [];
    for (const b of backends) {
      const groups = new Map<string, string[]>();
      for (const t of [...b.tests.values()].sort((x, y) => cmp(x.file, y.file))) {
        if (t.status !== 'refused' || !t.refusal?.byBackend) continue;
        const why = `${t.refusal.construct}: ${t.refusal.reason}`;
        groups.set(why, [...(groups.get(why) ?? []), testId(t.file)]);
      }
      for (const [why, tests] of [...groups.entries()].sort((x, y) => cmp(x[0], y[0]))) byBackend.push(`- ${b.name}, ${md(why)}: ${tests.map(code).join(', ')}`);
    }
    if (byBackend.length > 0) p("Refused by a backend's features (the compiler accepts the test):", '', ...byBackend, '');
  }

  // Results per test.
  p('## Results per test', '');
  p('`ok N`: N runs, every outcome allowed. `FORBIDDEN k/N`: k of N completed runs gave an outcome the profile does not allow',
    '(with the explanations). `(+n crashed)` and the like: runs that did not complete. Empty: not run on that backend.', '');
  const files = [...new Set(backends.flatMap((b) => [...b.tests.keys()]))].sort();
  p(`| test | ${names.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`);
  for (const f of files) p(`| ${md(testId(f))} | ${backends.map((b) => cell(b.tests.get(f), b.backend, anchorOf)).join(' | ')} |`);
  p('');

  p(...frequencyLines(files, backends, anchorOf));

  // Seeds.
  const seeds = files.filter((f) => /^seed-\d{3}-/.test(f));
  p('## Seed scenarios on real machines', '');
  if (seeds.length === 0) p('No seed scenario (`litmus/seed-NNN-*.litmus`) is in these reports (`lapis seeds --on BACKEND`).', '');
  else {
    p('The seed threads\' scenarios (`npm start` answers them on the model; `lapis seeds --on BACKEND` runs them here). Per',
      'backend: refused (why), or the answer to the test\'s condition on the runs (`Ok`/`No`, how often it held), and the',
      'verdict on every outcome. "model": the answer of the profile the runs were judged by.', '');
    p(`| seed | model | ${names.join(' | ')} |`, `|---|---|${names.map(() => '---|').join('')}`);
    for (const f of seeds) {
      const ran = backends.map((b) => b.tests.get(f)).find((t) => t?.status === 'ran');
      const model = ran?.model ? (ran.model.error ? `no answer: ${ran.model.error}` : ran.model.ok === null ? '-' : `${ran.model.ok ? 'Ok' : 'No'}${ran.model.complete === false ? ' (cut short)' : ''}`) : '-';
      p(`| ${md(testId(f))} | ${md(model)} | ${backends.map((b) => seedCell(b.tests.get(f), b.backend, anchorOf)).join(' | ')} |`);
    }
    p('');
    for (const f of seeds) {
      const cond = backends.map((b) => b.tests.get(f)).find((t) => t?.condition)?.condition;
      if (cond) p(`- ${code(testId(f))}: ${code(cond)}`);
    }
    p('');
  }

  // Failed runs.
  const failed: string[] = [];
  for (const b of backends) {
    for (const t of [...b.tests.values()].sort((x, y) => cmp(x.file, y.file))) {
      for (const fr of t.failures) failed.push(`- ${code(testId(t.file))} on ${b.name}: ${fr.count} ${fr.status}: ${md(oneLine(fr.reason))}`);
      if (t.status === 'error' || t.status === 'unavailable' || t.status === 'parse-error') failed.push(`- ${code(testId(t.file))} on ${b.name}: ${t.status}: ${md(oneLine(t.reason ?? ''))}`);
    }
  }
  p('## Failed runs and errors', '');
  p(...(failed.length > 0 ? failed : ['None: every run completed.']), '');

  // Explanations.
  p('## FORBIDDEN outcomes explained', '');
  if (explained.length === 0) p('None.', '');
  for (const e of explained) {
    p(`### ${e.id}`, '', `**${e.title}**`, '');
    const occ = [...(used.get(e.id) ?? [])].sort((a, b) => cmp(a.test, b.test) || backendRank(names, a.backend) - backendRank(names, b.backend) || cmp(a.key, b.key));
    p(...occurrenceLines(occ, ''));
    p('', `Classification: ${e.classification.map(classificationText).join('; ')}.`, '', e.text.trim(), '');
  }

  if (stale.length > 0) {
    p('## Stale explanations', '');
    p('These entries of conformance/explanations.json match no FORBIDDEN outcome in these reports (a backend fixed, a test',
      'changed or refused, or the backend not run): delete them, or keep them for a backend not run here.', '');
    for (const s of stale) {
      const e = input.explanations.find((x) => x.id === s.id);
      p(`- **${s.id}** ${e ? md(e.title) : ''}: ${md(s.why)}`);
    }
    p('');
  }
  if (uncovered.length > 0) {
    p('## Explanations not checked here', '');
    p('These entries name only backends that are not in these reports.', '');
    for (const s of uncovered) {
      const e = input.explanations.find((x) => x.id === s.id);
      p(`- [${s.id}] ${e ? md(e.title) : ''}: ${md(s.why)}`);
    }
    p('');
  }
  if (warnings.length > 0) {
    p('## Explanation warnings', '');
    for (const w of warnings) p(`- ${md(w)}`);
    p('');
  }
  return { text: `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`, unexplained, stale, uncovered, warnings };
}

/** The most outcomes of one test listed in "Outcome frequencies"; the rest are one row (a count that varies). */
const FREQ_ROWS = 6;

/** Every outcome of every test that ran, its share of the completed runs on each backend with its 95 % Wilson
 *  interval (stats.ts); 0/N where the test ran and the outcome was not seen. */
function frequencyLines(files: string[], backends: Merged[], anchors: (t: TestJson, b: string) => string[]): string[] {
  const out = [
    '## Outcome frequencies', '',
    "Each outcome's share of a test's completed runs on each backend, `k/N (low–high %)`: k of N runs, and the 95 %",
    'Wilson score interval (Wilson 1927; `src/backends/stats.ts`), the true frequencies these runs are consistent with.',
    'An outcome a backend never gave shows `0/N` with its upper bound (0 of 1000 runs: up to 0.38 %). A test with more',
    `than ${FREQ_ROWS} outcomes (a count that varies) lists the ${FREQ_ROWS} most frequent and counts the rest together.`, '',
  ];
  for (const f of files) {
    const ran = backends.map((b) => ({ b, t: b.tests.get(f) })).filter((x): x is { b: Merged; t: TestJson } => x.t?.status === 'ran' && x.t.completed > 0);
    if (ran.length === 0) continue;
    const keys = new Map<string, { total: number; verdict: string }>();
    for (const { t } of ran) {
      for (const o of t.outcomes) {
        const k = keys.get(o.key) ?? { total: 0, verdict: o.verdict };
        k.total += o.count;
        if (o.verdict === 'FORBIDDEN') k.verdict = 'FORBIDDEN';
        keys.set(o.key, k);
      }
    }
    const rows = [...keys.entries()].sort((a, b) => b[1].total - a[1].total || cmp(a[0], b[0]));
    const shown = rows.slice(0, FREQ_ROWS), rest = new Set(rows.slice(FREQ_ROWS).map(([k]) => k));
    out.push(`**${md(testId(f))}**`, '', `| outcome | verdict | ${ran.map((x) => x.b.name).join(' | ')} |`, `|---|---|${ran.map(() => '---|').join('')}`);
    for (const [key, k] of shown) {
      const verdict = k.verdict === 'FORBIDDEN'
        ? `**FORBIDDEN** ${[...new Set(ran.flatMap(({ b, t }) => t.outcomes.some((o) => o.key === key && o.verdict === 'FORBIDDEN') ? anchors({ ...t, outcomes: t.outcomes.filter((o) => o.key === key) }, b.backend) : []))].join(' ')}`
        : k.verdict;
      out.push(`| ${code(key)} | ${verdict.trim()} | ${ran.map(({ t }) => frequencyText(t.outcomes.find((o) => o.key === key)?.count ?? 0, t.completed)).join(' | ')} |`);
    }
    if (rest.size > 0) {
      const forbidden = rows.slice(FREQ_ROWS).some(([, k]) => k.verdict === 'FORBIDDEN');
      out.push(`| ${rest.size} other outcomes | ${forbidden ? 'some **FORBIDDEN**' : 'allowed'} | ${ran.map(({ t }) => frequencyText(t.outcomes.filter((o) => rest.has(o.key)).reduce((n, o) => n + o.count, 0), t.completed)).join(' | ')} |`);
    }
    out.push('');
  }
  return out;
}

/** One line per outcome; a test with more than GROUP outcomes on a backend gets one line for them all, with the
 *  first GROUP keys (tests whose outcomes include a count that varies run to run). */
const GROUP = 3;

function occurrenceLines(occ: Occurrence[], mark: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < occ.length; ) {
    let j = i;
    while (j < occ.length && occ[j].test === occ[i].test && occ[j].backend === occ[i].backend) j++;
    const group = occ.slice(i, j);
    if (group.length <= GROUP) {
      for (const o of group) lines.push(`- ${mark}${code(o.test)} on ${o.backend}, ${o.count}/${o.completed} runs: ${code(o.key)} (${allowedText(o.allowedBy)})`);
    } else {
      const o = group[0];
      const runs = group.reduce((n, x) => n + x.count, 0);
      const by = [...new Set(group.flatMap((x) => x.allowedBy))].sort();
      const none = group.some((x) => x.allowedBy.length === 0);
      const allowed = by.length === 0 ? 'no profile allows them' : `allowed by ${by.join(', ')}${none ? ' (some by none)' : ''}`;
      lines.push(`- ${mark}${code(o.test)} on ${o.backend}, ${runs}/${o.completed} runs in ${group.length} outcomes, e.g. ${group.slice(0, GROUP).map((x) => code(x.key)).join(', ')} (${allowed})`);
    }
    i = j;
  }
  return lines;
}

function backendRank(names: string[], n: string): number {
  return names.indexOf(n);
}

/** A reason on one line (a build error is many): its first line, and how many more. */
function oneLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() !== '');
  const first = (lines[0] ?? '').trim();
  return lines.length > 1 ? `${first} (and ${lines.length - 1} more line${lines.length > 2 ? 's' : ''})` : first;
}

function allowedText(by: string[]): string {
  return by.length > 0 ? `allowed by ${by.join(', ')}` : 'no profile allows it';
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function failedText(t: TestJson): string {
  // Runs past the guest's per-run limit, kept apart from the outcomes (reports made before that counted them in
  // `completed` and judged them, with no `timed-out` failure: nothing is added for those).
  const timedOut = t.failures.filter((f) => f.status === 'timed-out').reduce((n, f) => n + f.count, 0);
  const parts = [[t.hung, 'hung'], [t.crashed, 'crashed'], [t.unreadable, 'unreadable'], [timedOut, 'timed out']].filter(([n]) => (n as number) > 0).map(([n, w]) => `+${n} ${w}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function cell(t: TestJson | undefined, backend: string, anchors: (t: TestJson, b: string) => string[]): string {
  if (!t) return '';
  switch (t.status) {
    case 'refused': return md(`refused: ${t.refusal ? categoryById(t.refusal.category).short : '?'}`);
    case 'unavailable': return 'unavailable';
    case 'error': return '**error**';
    case 'parse-error': return '**parse error**';
    case 'ran': {
      if (t.forbidden > 0) return `**FORBIDDEN ${t.forbidden}/${t.completed}** ${anchors(t, backend).join(' ')}${failedText(t)}`;
      if (t.completed === 0) return `**no run completed**${failedText(t)}`;
      const unexplored = t.outcomes.filter((o) => o.verdict === 'unexplored').reduce((n, o) => n + o.count, 0);
      return `ok ${t.completed}${unexplored > 0 ? ` (${unexplored} not seen by the cut-short model)` : ''}${failedText(t)}`;
    }
  }
}

function seedCell(t: TestJson | undefined, backend: string, anchors: (t: TestJson, b: string) => string[]): string {
  if (!t || t.status !== 'ran') return cell(t, backend, anchors);
  const pos = t.outcomes.filter((o) => o.satisfies).reduce((n, o) => n + o.count, 0);
  const answer = `${t.ok ? 'Ok' : 'No'}, held in ${pos}/${t.completed}`;
  return t.forbidden > 0 ? `${answer}; **FORBIDDEN ${t.forbidden}/${t.completed}** ${anchors(t, backend).join(' ')}${failedText(t)}` : `${answer}; every outcome allowed${failedText(t)}`;
}

function staleWhy(m: { test: string; backends: string[] | null; outcome: string[] }, backends: Merged[]): string {
  const pattern = m.outcome.length > 0 ? ` ${m.outcome.join(' /\\ ')}` : '';
  const on = backends.filter((b) => m.backends === null || m.backends.includes(b.backend));
  if (on.length === 0) return `${m.test}${pattern}: ${m.backends?.join(', ') ?? 'no backend'} not in these reports`;
  const states = on.map((b) => {
    const t = b.tests.get(`${m.test}.litmus`);
    if (!t) return `${b.name}: not run`;
    if (t.status !== 'ran') return `${b.name}: ${t.status}`;
    const forb = t.outcomes.filter((o) => o.verdict === 'FORBIDDEN');
    if (forb.length === 0) return `${b.name}: no FORBIDDEN outcome`;
    const n = forb.filter((o) => !matches(m, m.test, b.backend, o.key)).length;
    return `${b.name}: ${n === 1 ? 'its one FORBIDDEN outcome does not match' : `none of its ${n} FORBIDDEN outcomes matches`}`;
  });
  return `${m.test}${pattern}: ${states.join(', ')}`;
}
