// Conformance reports (`lapis suite --on B --json`, schema lapis-suite/1) as histograms per test: each outcome a
// bar, FORBIDDEN ones marked with the explanations that match them (conformance/explanations.json).

import { classificationSummary, explain, parseExplanations, type Explanation } from '../../src/backends/explain.js';

const reportUrls = import.meta.glob('../../conformance/results/*.json', { query: '?url', import: 'default', eager: true }) as Record<string, string>;
const explanationsUrl = Object.values(import.meta.glob('../../conformance/explanations.json', { query: '?url', import: 'default', eager: true }) as Record<string, string>)[0];

export const BUNDLED_REPORTS: { name: string; url: string }[] = Object.entries(reportUrls)
  .map(([path, url]) => ({ name: path.replace(/^.*\//, '').replace(/\.json$/, ''), url }))
  .sort((a, b) => a.name.localeCompare(b.name));

interface OutcomeJson { key: string; count: number; satisfies: boolean; verdict: string; allowedBy: string[] }
interface TestJson {
  file: string; name: string | null; status: string; reason: string | null; condition: string | null; runs: number; completed: number;
  refusal: { construct: string; reason: string; category: string } | null; outcomes: OutcomeJson[]; forbidden: number; verdict: string | null;
  observation: string | null; model: { profile: string } | null;
}
export interface SuiteJson {
  schema: string; kind: string; backend: { name: string; description: string; version: string }; profile: string; runsPerTest: number;
  started: string; tests: TestJson[];
}

export class ReportError extends Error {}

/** Check the fields the view reads; a file that is not a suite report is an error, not a blank page. */
export function parseReport(text: string, source: string): SuiteJson {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${source}: not JSON: ${(e as Error).message}`);
  }
  const r = v as Partial<SuiteJson>;
  if (typeof v !== 'object' || v === null || r.schema !== 'lapis-suite/1') throw new ReportError(`${source}: not a lapis suite report (schema lapis-suite/1)`);
  if (!Array.isArray(r.tests) || typeof r.backend?.name !== 'string') throw new ReportError(`${source}: a suite report needs "backend" and "tests"`);
  return r as SuiteJson;
}

let explanations: Promise<Explanation[]> | null = null;
export function loadExplanations(): Promise<Explanation[]> {
  explanations ??= fetch(explanationsUrl).then((r) => r.text()).then((t) => parseExplanations(t, 'conformance/explanations.json')).catch(() => []);
  return explanations;
}

export interface ReportFilter {
  forbiddenOnly: boolean;
  search: string;
}

export function renderReport(target: HTMLElement, r: SuiteJson, all: Explanation[], f: ReportFilter): void {
  target.replaceChildren();
  const head = document.createElement('div');
  head.className = 'report-head';
  const ran = r.tests.filter((t) => t.status === 'ran');
  const forbidden = ran.filter((t) => t.verdict === 'FORBIDDEN');
  head.innerHTML = '<h3></h3><p class="muted"></p>';
  head.querySelector('h3')!.textContent = `${r.backend.name}: ${r.backend.version}`;
  head.querySelector('p')!.textContent = `${r.backend.description} · ${r.tests.length} tests, ${ran.length} ran (${r.runsPerTest} runs each), ${forbidden.length} with a FORBIDDEN outcome · judged by profile ${r.profile} · ${r.started}`;
  target.appendChild(head);
  const q = f.search.trim().toLowerCase();
  for (const t of ran) {
    if (f.forbiddenOnly && t.verdict !== 'FORBIDDEN') continue;
    const name = t.file.replace(/\.litmus$/, '');
    if (q && !name.toLowerCase().includes(q) && !(t.name ?? '').toLowerCase().includes(q)) continue;
    target.appendChild(testCard(r, t, name, all));
  }
  const others = r.tests.filter((t) => t.status !== 'ran');
  if (others.length && !f.forbiddenOnly) {
    const d = document.createElement('details');
    d.className = 'not-run';
    d.innerHTML = `<summary>${others.length} tests did not run on ${r.backend.name}</summary>`;
    const ul = document.createElement('ul');
    for (const t of others) {
      const li = document.createElement('li');
      li.textContent = `${t.file.replace(/\.litmus$/, '')}: ${t.status}${t.refusal ? `, ${t.refusal.reason}` : t.reason ? `, ${t.reason}` : ''}`;
      ul.appendChild(li);
    }
    d.appendChild(ul);
    target.appendChild(d);
  }
}

function testCard(r: SuiteJson, t: TestJson, name: string, all: Explanation[]): HTMLElement {
  const card = document.createElement('section');
  card.className = `report-test${t.verdict === 'FORBIDDEN' ? ' forbidden' : ''}`;
  card.dataset.test = name;
  const h = document.createElement('h4');
  h.textContent = name;
  const meta = document.createElement('span');
  meta.className = 'muted';
  meta.textContent = ` ${t.completed}/${t.runs} runs · ${t.condition ?? ''}`;
  h.appendChild(meta);
  card.appendChild(h);
  const max = Math.max(1, ...t.outcomes.map((o) => o.count));
  for (const o of t.outcomes) {
    const row = document.createElement('div');
    row.className = `bar-row verdict-${o.verdict}`;
    row.dataset.verdict = o.verdict;
    const label = document.createElement('div');
    label.className = 'bar-label';
    label.textContent = `${o.satisfies ? '✓ ' : ''}${o.key}`;
    const bar = document.createElement('div');
    bar.className = 'bar';
    const fill = document.createElement('i');
    fill.style.width = `${(100 * o.count) / max}%`;
    bar.appendChild(fill);
    const count = document.createElement('div');
    count.className = 'bar-count';
    count.textContent = String(o.count);
    row.append(label, bar, count);
    if (o.verdict === 'FORBIDDEN') {
      const tag = document.createElement('span');
      tag.className = 'forbidden-tag';
      tag.textContent = o.allowedBy.length ? `FORBIDDEN (allowed by ${o.allowedBy.join(', ')})` : 'FORBIDDEN';
      row.appendChild(tag);
    }
    card.appendChild(row);
    if (o.verdict !== 'FORBIDDEN') continue;
    const ex = explain(all, name, r.backend.name, o.key);
    const box = document.createElement('div');
    box.className = 'explanations';
    if (ex.length === 0) box.innerHTML = '<p class="unexplained">UNEXPLAINED: no entry in conformance/explanations.json matches this outcome</p>';
    for (const e of ex) {
      const d = document.createElement('details');
      d.className = 'explanation';
      d.dataset.id = e.id;
      const s = document.createElement('summary');
      s.textContent = `${e.id}: ${e.title}`;
      const p = document.createElement('p');
      p.textContent = e.text;
      const c = document.createElement('p');
      c.className = 'muted';
      c.textContent = e.classification.map(classificationSummary).join(' · ');
      d.append(s, p, c);
      box.appendChild(d);
    }
    card.appendChild(box);
  }
  return card;
}
