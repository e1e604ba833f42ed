// The page: editor, answer, diagram and registers (Run), two profiles side by side (Compare), the catalog, and
// conformance reports. Tests come from the catalog, the URL, `lapis view` (lapis-open.json) or the data a
// `lapis run --html` page carries; every exploration runs in the engine worker.

import './style.css';
import { EngineClient, StoppedError } from './client.js';
import { createEditor, type LitmusEditor } from './editor.js';
import { CATALOG, DEFAULT_TEST, catalogEntry, catalogTestOf } from './catalog.js';
import { classify, partingStep, type Diagram } from './classify.js';
import { legend, renderDiagram } from './diagram.js';
import { renderRegisters } from './registers.js';
import { interestingOutcome, renderAnswer } from './answer.js';
import { compareOutcomes, partingText, renderCompareTable, type CompareRow } from './compare.js';
import { BUNDLED_REPORTS, loadExplanations, parseReport, renderReport, type SuiteJson } from './reports.js';
import { readHash, shareHash } from './share.js';
import { answerOf, isTraceJson, tracesOf } from './tracefile.js';
import type { PageData, ParseProblem, RawTrace, RunAnswer } from './types.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const runner = new EngineClient();
const helper = new EngineClient();

interface Shown {
  diagram: Diagram;
  trace: RawTrace;
  final: string;
}

const app = {
  text: '',
  profile: 'spec',
  tab: 'run',
  answer: null as RunAnswer | null,
  answerText: '',
  selected: null as string | null,
  shown: null as Shown | null,
  step: null as number | null,
  /** Runs known without the engine: a --html page's data, or a trace file's text traces. */
  pageWitnesses: null as Record<string, number[]> | null,
  textTraces: null as Map<string, RawTrace> | null,
  compare: null as { a: RunAnswer; b: RunAnswer; rows: CompareRow[]; text: string } | null,
  report: null as SuiteJson | null,
};

let editor: LitmusEditor;

// ---------------------------------------------------------------- tabs, toolbar

function showTab(tab: string): void {
  app.tab = tab;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  for (const v of ['run', 'compare', 'catalog', 'reports']) $(`view-${v}`).hidden = v !== tab;
  if (tab === 'reports' && !app.report && BUNDLED_REPORTS.length && !document.getElementById('lapis-page-data')) void openBundledReport(BUNDLED_REPORTS[0].name);
}

function fillProfiles(names: string[]): void {
  for (const id of ['profile-select', 'compare-a', 'compare-b']) {
    const sel = $<HTMLSelectElement>(id);
    sel.replaceChildren(...names.map((n) => new Option(n, n)));
  }
  $<HTMLSelectElement>('profile-select').value = app.profile;
  $<HTMLSelectElement>('compare-a').value = 'spec';
  $<HTMLSelectElement>('compare-b').value = names.includes('kvm-2019') ? 'kvm-2019' : names[names.length - 1];
}

function fillTestSelect(): void {
  const sel = $<HTMLSelectElement>('test-select');
  sel.replaceChildren(new Option('(edited)', ''), ...CATALOG.map((e) => new Option(e.id, e.id)));
  syncTestSelect();
}

function syncTestSelect(): void {
  $<HTMLSelectElement>('test-select').value = catalogTestOf(app.text)?.id ?? '';
}

function setProgress(s: string): void {
  $('progress').textContent = s;
}

// ---------------------------------------------------------------- run

function setText(text: string): void {
  app.text = text;
  if (editor.text() !== text) editor.setText(text);
  syncTestSelect();
}

async function run(): Promise<void> {
  const text = app.text, profile = app.profile;
  runner.stop();
  app.pageWitnesses = null;
  app.textTraces = null;
  $('answer').dataset.state = 'running';
  $<HTMLButtonElement>('stop').disabled = false;
  setProgress('exploring…');
  try {
    const a = await runner.run(text, profile, (states) => setProgress(`exploring… ${states.toLocaleString('en')} states`));
    setProgress('');
    showAnswer(a, text);
  } catch (e) {
    $('answer').dataset.state = e instanceof StoppedError ? 'stopped' : 'error';
    setProgress(e instanceof StoppedError ? 'stopped' : '');
    if (!(e instanceof StoppedError)) {
      $('answer').replaceChildren(Object.assign(document.createElement('pre'), { className: 'error', textContent: (e as Error).message }));
    }
  } finally {
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

function showAnswer(a: RunAnswer, text: string): void {
  app.answer = a;
  app.answerText = text;
  app.selected = interestingOutcome(a);
  renderAnswer($('answer'), a, app.selected, (k) => void selectOutcome(k));
  $('answer').dataset.state = 'done';
  if (app.selected) void selectOutcome(app.selected);
  else clearDiagram('No final state: every run loops forever or was cut short.');
}

function clearDiagram(msg: string): void {
  app.shown = null;
  $('diagram').dataset.state = 'idle';
  $('diagram').replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: msg }));
  $('registers').replaceChildren();
  $('diagram-head').replaceChildren();
}

async function traceFor(text: string, profile: string, key: string, answer: RunAnswer): Promise<RawTrace> {
  const fromFile = app.textTraces?.get(key);
  if (fromFile) return fromFile;
  const o = answer.outcomes.find((x) => x.key === key)!;
  const steps = app.pageWitnesses?.[key] ?? await runner.witness(text, profile, key, o.witness, answer.states * 2);
  return runner.replay(text, profile, steps);
}

async function selectOutcome(key: string): Promise<void> {
  const a = app.answer;
  if (!a) return;
  app.selected = key;
  for (const tr of document.querySelectorAll<HTMLElement>('#answer tr.outcome')) tr.classList.toggle('selected', tr.dataset.key === key);
  $('diagram').dataset.state = 'loading';
  try {
    const trace = await traceFor(app.answerText, a.profile, key, a);
    if (app.selected !== key) return;
    app.shown = { diagram: classify(trace), trace, final: key };
    app.step = null;
    drawRunDiagram();
    $('diagram').dataset.state = 'ready';
  } catch (e) {
    if (!(e instanceof StoppedError)) clearDiagram(`No diagram: ${(e as Error).message}`);
  }
}

function drawRunDiagram(): void {
  const s = app.shown;
  if (!s) return;
  const box = $('diagram');
  const head = $('diagram-head');
  const o = app.answer?.outcomes.find((x) => x.key === s.final);
  head.replaceChildren();
  const h = document.createElement('h3');
  h.textContent = `${o?.satisfies ? 'A run satisfying the condition' : 'A run'} (${s.diagram.steps.length} steps, profile ${s.diagram.profile})`;
  head.append(h, legend());
  if (!s.diagram.exact) head.appendChild(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'From a trace file: lane states are inferred from the trace lines.' }));
  const width = Math.max(640, box.clientWidth - 4);
  box.replaceChildren(renderDiagram(s.diagram, { selected: app.step, width, final: s.final, onSelect: selectStep }));
  if (app.step !== null) renderRegisters($('registers'), s.diagram, s.trace.steps, s.trace.initial, app.step);
  else $('registers').replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Click a step (or focus the diagram and use ↑ ↓) to see every CPU\'s registers after it.' }));
}

function selectStep(i: number): void {
  const s = app.shown;
  if (!s || s.diagram.steps.length === 0) return;
  app.step = Math.max(0, Math.min(i, s.diagram.steps.length - 1));
  drawRunDiagram();
  // Redrawing removed whatever had focus: keep it on the diagram so the arrow keys go on stepping.
  $('diagram').focus({ preventScroll: true });
  const row = $('diagram').querySelector<SVGGElement>(`g.step[data-step="${app.step}"]`);
  row?.scrollIntoView({ block: 'nearest' });
}

function stepKeys(e: KeyboardEvent): void {
  const s = app.shown;
  if (!s) return;
  const n = s.diagram.steps.length, at = app.step;
  const moves: Record<string, number> = { ArrowDown: 1, ArrowRight: 1, j: 1, ArrowUp: -1, ArrowLeft: -1, k: -1 };
  if (e.key in moves) selectStep(at === null ? (moves[e.key] > 0 ? 0 : n - 1) : at + moves[e.key]);
  else if (e.key === 'Home') selectStep(0);
  else if (e.key === 'End') selectStep(n - 1);
  else return;
  e.preventDefault();
}

// ---------------------------------------------------------------- compare

async function compare(): Promise<void> {
  const text = app.text, pa = $<HTMLSelectElement>('compare-a').value, pb = $<HTMLSelectElement>('compare-b').value;
  runner.stop();
  const box = $('compare');
  box.dataset.state = 'running';
  $<HTMLButtonElement>('stop').disabled = false;
  for (const id of ['compare-diagram-a', 'compare-diagram-b', 'compare-title-a', 'compare-title-b', 'parting']) $(id).replaceChildren();
  try {
    setProgress(`exploring under ${pa}…`);
    const a = await runner.run(text, pa, (n) => setProgress(`exploring under ${pa}… ${n.toLocaleString('en')} states`));
    setProgress(`exploring under ${pb}…`);
    const b = await runner.run(text, pb, (n) => setProgress(`exploring under ${pb}… ${n.toLocaleString('en')} states`));
    setProgress('');
    const rows = compareOutcomes(a, b);
    app.compare = { a, b, rows, text };
    const first = rows.find((r) => r.differs) ?? rows[0];
    renderCompareTable(box, a, b, rows, first?.key ?? null, (k) => void compareOutcome(k));
    box.dataset.state = 'done';
    if (first) await compareOutcome(first.key);
  } catch (e) {
    box.dataset.state = e instanceof StoppedError ? 'stopped' : 'error';
    setProgress(e instanceof StoppedError ? 'stopped' : '');
    if (!(e instanceof StoppedError)) box.replaceChildren(Object.assign(document.createElement('pre'), { className: 'error', textContent: (e as Error).message }));
  } finally {
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

async function compareOutcome(key: string): Promise<void> {
  const c = app.compare;
  if (!c) return;
  for (const tr of document.querySelectorAll<HTMLElement>('#compare tr.outcome')) tr.classList.toggle('selected', tr.dataset.key === key);
  const row = c.rows.find((r) => r.key === key)!;
  // The run comes from the profile that allows the outcome (A when both do); the other replays the same steps.
  const [own, other] = row.a > 0 ? [c.a, c.b] : [c.b, c.a];
  const o = own.outcomes.find((x) => x.key === key)!;
  const steps = await runner.witness(c.text, own.profile, key, o.witness, own.states * 2);
  const [x, y] = await Promise.all([runner.replay(c.text, own.profile, steps), runner.replay(c.text, other.profile, steps)]);
  const at = partingStep(x, y);
  const [ta, tb] = own === c.a ? [x, y] : [y, x];
  $('parting').textContent = partingText(at, x, y);
  $('parting').dataset.step = at === null ? '' : String(at + 1);
  const width = Math.max(420, ($('view-compare').clientWidth - 40) / 2);
  for (const [t, side] of [[ta, 'a'], [tb, 'b']] as const) {
    $(`compare-title-${side}`).textContent = `${t.profile}${t === x ? `: a run to ${key}` : ': the same steps'}`;
    $(`compare-diagram-${side}`).replaceChildren(renderDiagram(classify(t), { selected: null, flagged: at, flagLabel: 'runs part here', width, final: t === x ? key : undefined }));
  }
  $('compare').dataset.state = 'shown';
}

// ---------------------------------------------------------------- catalog

function renderCatalog(): void {
  const q = $<HTMLInputElement>('catalog-filter').value.trim().toLowerCase();
  const table = $('catalog');
  table.replaceChildren();
  for (const e of CATALOG) {
    if (q && !`${e.id} ${e.name} ${e.description}`.toLowerCase().includes(q)) continue;
    const tr = document.createElement('tr');
    tr.dataset.test = e.id;
    tr.tabIndex = 0;
    tr.innerHTML = '<td class="group"></td><td class="name"></td><td class="desc"></td>';
    tr.children[0].textContent = e.group;
    tr.children[1].textContent = e.id;
    tr.children[2].textContent = e.description;
    const open = (): void => {
      setText(e.text);
      showTab('run');
      void run();
    };
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') open();
    });
    table.appendChild(tr);
  }
}

// ---------------------------------------------------------------- reports

async function showReport(r: SuiteJson): Promise<void> {
  app.report = r;
  const all = await loadExplanations();
  renderReport($('report'), r, all, { forbiddenOnly: $<HTMLInputElement>('report-forbidden').checked, search: $<HTMLInputElement>('report-search').value });
  $('report').dataset.state = 'done';
  for (const b of document.querySelectorAll<HTMLButtonElement>('#report-list button')) b.classList.toggle('active', b.dataset.report === r.backend.name);
}

async function openBundledReport(name: string): Promise<void> {
  const r = BUNDLED_REPORTS.find((x) => x.name === name);
  if (!r) return;
  try {
    const text = await (await fetch(r.url)).text();
    await showReport(parseReport(text, `${name}.json`));
  } catch (e) {
    $('report').replaceChildren(Object.assign(document.createElement('pre'), { className: 'error', textContent: (e as Error).message }));
  }
}

function reportError(e: unknown): void {
  $('report').dataset.state = 'error';
  $('report').replaceChildren(Object.assign(document.createElement('pre'), { className: 'error', textContent: (e as Error).message }));
}

// ---------------------------------------------------------------- opening things

async function openPage(d: PageData): Promise<void> {
  setText(d.text);
  app.profile = d.profile;
  $<HTMLSelectElement>('profile-select').value = d.profile;
  showAnswer(d.answer, d.text);
  app.pageWitnesses = d.witnesses;
  if (app.selected) await selectOutcome(app.selected);
}

/** `lapis view FILE`: the server hands the file over as lapis-open.json. */
async function openServed(): Promise<boolean> {
  const r = await fetch('lapis-open.json').catch(() => null);
  if (!r || !r.ok) return false;
  const o = (await r.json()) as { kind: string; file: string; text?: string; data?: unknown };
  if (o.kind === 'litmus' && o.text !== undefined) {
    setText(o.text);
    await run();
    return true;
  }
  if (o.kind === 'page') {
    await openPage(o.data as PageData);
    return true;
  }
  if (o.kind === 'report') {
    showTab('reports');
    await showReport(parseReport(JSON.stringify(o.data), o.file));
    return true;
  }
  if (o.kind === 'trace' && isTraceJson(o.data)) {
    const a = answerOf(o.data);
    app.textTraces = tracesOf(o.data);
    app.answer = a;
    app.answerText = '';
    app.selected = interestingOutcome(a);
    renderAnswer($('answer'), a, app.selected, (k) => void selectOutcome(k));
    $('answer').dataset.state = 'done';
    editor.setText(`# ${o.file}: a trace file (the test's text is not in it)\n`);
    if (app.selected) await selectOutcome(app.selected);
    return true;
  }
  return false;
}

async function start(): Promise<void> {
  const embedded = document.getElementById('lapis-page-data');
  const shared = await readHash(location.hash);
  const initial = shared.text ?? (shared.test ? catalogEntry(shared.test)?.text : undefined) ?? catalogEntry(DEFAULT_TEST)?.text ?? '';
  app.text = initial;
  if (shared.profile) app.profile = shared.profile;
  editor = createEditor($('editor'), initial, async (t) => {
    const r = await helper.parse(t);
    return r.ok ? [] : r.errors;
  }, (t) => {
    app.text = t;
    syncTestSelect();
  }, showProblems);
  fillTestSelect();
  renderCatalog();
  $('report-list').replaceChildren(...BUNDLED_REPORTS.map((r) => {
    const b = document.createElement('button');
    b.textContent = r.name;
    b.dataset.report = r.name;
    b.addEventListener('click', () => void openBundledReport(r.name));
    return b;
  }));
  wire();
  const names = (await helper.profiles()).map((p) => p.name);
  if (!names.includes(app.profile)) app.profile = 'spec';
  fillProfiles(names);
  if (shared.a && names.includes(shared.a)) $<HTMLSelectElement>('compare-a').value = shared.a;
  if (shared.b && names.includes(shared.b)) $<HTMLSelectElement>('compare-b').value = shared.b;
  if (embedded?.textContent) {
    await openPage(JSON.parse(embedded.textContent) as PageData);
    return;
  }
  if (shared.open && await openServed()) return;
  if (shared.tab) showTab(shared.tab);
  await run();
  if (shared.tab === 'compare') await compare();
}

function showProblems(p: ParseProblem[]): void {
  const ul = $('problems');
  ul.replaceChildren(...p.map((x) => {
    const li = document.createElement('li');
    li.dataset.line = String(x.line);
    li.textContent = `line ${x.line}:${x.col}: ${x.message}`;
    return li;
  }));
  $<HTMLButtonElement>('run').disabled = p.length > 0;
}

function wire(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab!));
  $('run').addEventListener('click', () => {
    showTab('run');
    void run();
  });
  $('stop').addEventListener('click', () => runner.stop());
  $<HTMLSelectElement>('profile-select').addEventListener('change', (e) => {
    app.profile = (e.target as HTMLSelectElement).value;
    void run();
  });
  $<HTMLSelectElement>('test-select').addEventListener('change', (e) => {
    const entry = catalogEntry((e.target as HTMLSelectElement).value);
    if (!entry) return;
    setText(entry.text);
    void run();
  });
  $('compare-run').addEventListener('click', () => void compare());
  $('share').addEventListener('click', async () => {
    const extra: Record<string, string> = app.tab === 'compare' ? { a: $<HTMLSelectElement>('compare-a').value, b: $<HTMLSelectElement>('compare-b').value } : {};
    const hash = await shareHash(app.text, app.profile, app.tab, extra);
    history.replaceState(null, '', hash);
    const ok = await navigator.clipboard?.writeText(location.href).then(() => true, () => false);
    $('share-note').textContent = ok ? 'link copied' : 'link in the address bar';
  });
  $('catalog-filter').addEventListener('input', renderCatalog);
  $('diagram').addEventListener('keydown', stepKeys);
  // Outside the diagram only j and k step: the arrow keys keep scrolling the page.
  document.addEventListener('keydown', (e) => {
    if (app.tab === 'run' && (e.key === 'j' || e.key === 'k') && (document.activeElement === document.body || document.activeElement === null)) stepKeys(e);
  });
  $<HTMLInputElement>('report-file').addEventListener('change', async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    try {
      await showReport(parseReport(await f.text(), f.name));
    } catch (err) {
      reportError(err);
    }
  });
  const rerender = (): void => void (app.report && showReport(app.report));
  $('report-forbidden').addEventListener('change', rerender);
  $('report-search').addEventListener('input', rerender);
  let resize = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(resize);
    resize = requestAnimationFrame(drawRunDiagram);
  });
}

void start();
