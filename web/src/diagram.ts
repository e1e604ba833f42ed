// The sequence diagram of one run (SVG): a lane per CPU, agent and hypervisor, time running down, the state of
// each CPU as a band along its lane, each step a row with a marker on the lane it happens on, and messages as
// arrows from the sender's row to the target's row at the step it arrives, marked latched or discarded.

import type { Diagram, LaneState, Mark, Message } from './classify.js';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 30;
const HEAD = 54;
const GUTTER = 64;
const BAND = 10;
/** From the gutter to the first lane. */
const LEAD = 64;

export const STATE_STYLE: Record<LaneState, { color: string; label: string; dash?: string }> = {
  running: { color: '#2e7d32', label: 'running' },
  handler: { color: '#1565c0', label: 'in a handler' },
  halted: { color: '#9aa0a6', label: 'halted' },
  'wait-for-sipi': { color: '#f2a900', label: 'wait-for-SIPI' },
  smm: { color: '#7b1fa2', label: 'in SMM' },
  descheduled: { color: '#c7c7c7', label: 'descheduled', dash: '3 3' },
  shutdown: { color: '#c62828', label: 'shutdown' },
  unplugged: { color: '#e0e0e0', label: 'unplugged', dash: '1 4' },
  agent: { color: '#5f6368', label: 'agent' },
  done: { color: '#d0d0d0', label: 'finished', dash: '2 4' },
};

const FATE_COLOR: Record<Message['fate'], string> = {
  accepted: '#1f3b57', started: '#1f3b57', taken: '#1f3b57', pending: '#1f3b57', vmexit: '#1f3b57',
  latched: '#d35400', discarded: '#c62828', 'in flight': '#7f8c8d',
};

const MARK_COLOR: Record<Mark['kind'], string> = {
  op: '#37474f', taken: '#1565c0', latched: '#d35400', discarded: '#c62828', accepted: '#1f3b57', started: '#2e7d32',
  pending: '#1f3b57', timer: '#b35900', exit: '#8e24aa', hypervisor: '#6d4c41',
};

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

function text(parent: Element, x: number, y: number, s: string, attrs: Record<string, string | number> = {}): SVGTextElement {
  const t = el('text', { x, y, ...attrs }, parent);
  t.textContent = s;
  return t;
}

function clip(s: string, px: number): string {
  const max = Math.max(4, Math.floor(px / 6.2));
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export interface DiagramOptions {
  selected: number | null;
  /** A step to flag (the step where two profiles' runs part). */
  flagged?: number | null;
  flagLabel?: string;
  width?: number;
  onSelect?: (step: number) => void;
  /** The outcome the run ends in, printed under the last step. */
  final?: string;
}

export function laneWidth(d: Diagram, width: number): number {
  return Math.max(170, Math.min(300, Math.floor((width - GUTTER - LEAD) / Math.max(1, d.lanes.length))));
}

/** Draw the diagram; returns the SVG. Rows are `g.step[data-step]`, lanes `g.lane[data-lane]`. */
export function renderDiagram(d: Diagram, opts: DiagramOptions): SVGSVGElement {
  const lw = laneWidth(d, opts.width ?? 900);
  const n = d.steps.length;
  const flagged = opts.flagged !== null && opts.flagged !== undefined && opts.flagged < n;
  // Each lane owns the column to its right, where its steps' labels go.
  const width = Math.max(GUTTER + LEAD + lw * d.lanes.length + (flagged ? 120 : 0), opts.final ? GUTTER + 6.8 * (opts.final.length + 8) + 12 : 0);
  const height = HEAD + ROW * (n + 1) + (opts.final ? 28 : 8);
  const svg = el('svg', { xmlns: SVG, width, height, viewBox: `0 0 ${width} ${height}`, class: 'diagram', role: 'img', 'aria-label': `Sequence diagram of ${d.test} under ${d.profile}` });
  const defs = el('defs', {}, svg);
  for (const [name, color] of Object.entries(FATE_COLOR)) {
    const m = el('marker', { id: `arrow-${name.replace(' ', '-')}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }, m);
  }
  el('rect', { x: 0, y: 0, width, height, fill: '#fff' }, svg);
  const laneX = new Map<string, number>();
  d.lanes.forEach((l, k) => laneX.set(l.id, GUTTER + LEAD + lw * k));
  const rowY = (i: number): number => HEAD + ROW * i + ROW / 2;

  // Row backgrounds (selection, flag, hover target).
  const rows = el('g', { class: 'rows' }, svg);
  d.steps.forEach((s, i) => {
    const g = el('g', { class: 'step', 'data-step': i }, rows);
    const fill = i === opts.selected ? '#dbeafe' : i === opts.flagged ? '#fde2e2' : i % 2 ? '#fafbfc' : '#fff';
    el('rect', { x: 0, y: HEAD + ROW * i, width, height: ROW, fill, class: i === opts.selected ? 'row selected' : 'row' }, g);
    text(g, GUTTER - 10, rowY(i) + 4, String(i + 1), { 'text-anchor': 'end', class: 'stepno' });
    if (opts.onSelect) g.addEventListener('click', () => opts.onSelect!(i));
    const title = el('title', {}, g);
    title.textContent = [s.text, ...s.effects.filter((e) => e !== s.text)].join('\n');
  });

  // Lane heads and state bands.
  const lanes = el('g', { class: 'lanes' }, svg);
  d.lanes.forEach((l) => {
    const x = laneX.get(l.id)!;
    const g = el('g', { class: `lane lane-${l.kind}`, 'data-lane': l.id }, lanes);
    const hw = Math.min(lw - 24, 150);
    el('rect', { x: x - hw / 2, y: 8, width: hw, height: 28, rx: 6, fill: l.kind === 'cpu' ? '#eef3f8' : l.kind === 'hypervisor' ? '#f3ece6' : '#f1f3f4', stroke: '#c9d1d9' }, g);
    text(g, x, 27, l.label, { 'text-anchor': 'middle', class: 'lane-label' });
    let from = HEAD - 10, state = d.initial[l.id];
    const segment = (to: number, s: LaneState): void => {
      const st = STATE_STYLE[s];
      const thin = l.kind !== 'cpu';
      el('line', { x1: x, y1: from, x2: x, y2: to, stroke: st.color, 'stroke-width': thin ? 2 : BAND, 'stroke-dasharray': st.dash ?? '', class: `band state-${s}` }, g)
        .appendChild(document.createElementNS(SVG, 'title')).textContent = `${l.id}: ${st.label}`;
    };
    d.steps.forEach((s, i) => {
      const next = s.states[l.id];
      if (next !== state) {
        segment(rowY(i), state);
        from = rowY(i);
        state = next;
      }
    });
    segment(HEAD + ROW * n + 6, state);
  });

  // Time: a dashed rule across every lane.
  const overlay = el('g', { class: 'overlay' }, svg);
  d.steps.forEach((s, i) => {
    if (s.category !== 'time') return;
    el('line', { x1: GUTTER - 4, y1: rowY(i), x2: width - 8, y2: rowY(i), stroke: '#b35900', 'stroke-dasharray': '6 4', 'stroke-width': 1 }, overlay);
    text(overlay, width - 10, rowY(i) - 4, `time → ${s.time ?? '?'}`, { class: 'time-label', 'text-anchor': 'end' });
  });

  // Messages.
  const arrows = el('g', { class: 'messages' }, svg);
  for (const m of d.messages) drawMessage(arrows, m, laneX, rowY, n, lw);

  // Markers and labels.
  const marks = el('g', { class: 'marks' }, svg);
  d.steps.forEach((s, i) => {
    for (const mk of s.marks) {
      const x = laneX.get(mk.lane);
      if (x === undefined) continue;
      // An arrow arriving from the right ends where the label would start: the label steps aside.
      const fromRight = d.messages.some((m) => m.arrivedAt === i && m.to === mk.lane && (laneX.get(m.from) ?? 0) > x && m.sentAt !== i);
      drawMark(marks, mk, x, rowY(i), lw, i, fromRight ? 10 : 0);
    }
  });
  if (flagged) {
    text(overlay, width - 10, rowY(opts.flagged!) + 4, `◀ ${opts.flagLabel ?? 'runs part here'}`, { 'text-anchor': 'end', class: 'flag-label' });
  }
  if (d.blockedAt !== null) text(overlay, GUTTER + 6, HEAD + ROW * n + 16, `step ${d.blockedAt + 1} of the run cannot happen under ${d.profile}`, { class: 'flag-label' });
  else if (opts.final) text(overlay, GUTTER + 6, HEAD + ROW * n + 20, `final: ${opts.final}`, { class: 'final-label' });
  return svg;
}

function drawMessage(g: Element, m: Message, laneX: Map<string, number>, rowY: (i: number) => number, n: number, lw: number): void {
  const x1 = laneX.get(m.from), x2 = laneX.get(m.to);
  if (x1 === undefined || x2 === undefined) return;
  const y1 = rowY(m.sentAt), y2 = m.arrivedAt === null ? rowY(n) : rowY(m.arrivedAt);
  const color = FATE_COLOR[m.fate];
  const dir = x2 >= x1 ? 1 : -1;
  const sx = x1 === x2 ? x1 : x1 + dir * 7, ex = x1 === x2 ? x2 : x2 - dir * (BAND / 2 + 3);
  const mg = el('g', { class: `message fate-${m.fate.replace(' ', '-')}`, 'data-from': m.from, 'data-to': m.to, 'data-fate': m.fate }, g);
  // Along a row (sent and arrived in one step) the arrow runs under the row's labels.
  const flat = y1 === y2 && x1 !== x2;
  const ya = flat ? y1 + 9 : y1, yb = flat ? y2 + 9 : y2;
  const line = x1 === x2
    ? el('path', { d: `M${x1 + 8},${y1} C${x1 + 40},${y1} ${x1 + 40},${y2} ${x1 + 8},${y2}`, fill: 'none' }, mg)
    : el('line', { x1: sx, y1: ya, x2: ex, y2: yb }, mg);
  line.setAttribute('stroke', color);
  line.setAttribute('stroke-width', '1.6');
  if (m.fate === 'discarded' || m.fate === 'in flight') line.setAttribute('stroke-dasharray', '5 3');
  if (m.fate !== 'discarded') line.setAttribute('marker-end', `url(#arrow-${m.fate.replace(' ', '-')})`);
  el('title', {}, mg).textContent = `${m.label} from ${m.from} to ${m.to}: sent at step ${m.sentAt + 1}, ${m.arrivedAt === null ? 'still in flight' : `arrives at step ${m.arrivedAt + 1}`}, ${m.fate}${m.reason ? ` (${m.reason})` : ''}`;
  // The label sits on the arrow near its start, where arrows crowd least.
  if (flat) {
    text(mg, ex - dir * 8, ya + 12, clip(m.label, lw * 0.6), { 'text-anchor': dir > 0 ? 'end' : 'start', class: 'msg-label', fill: color });
    return;
  }
  const lx = x1 === x2 ? x1 + 34 : (sx + ex) / 2, ly = (y1 + y2) / 2 - 4;
  text(mg, lx, ly, clip(m.label, lw * 0.6), { 'text-anchor': 'middle', class: 'msg-label', fill: color });
}

function drawMark(g: Element, mk: Mark, x: number, y: number, lw: number, step: number, shift: number): void {
  const color = MARK_COLOR[mk.kind];
  const mg = el('g', { class: `mark mark-${mk.kind}`, 'data-step': step }, g);
  switch (mk.kind) {
    case 'latched':
      el('path', { d: `M${x},${y - 7} L${x + 7},${y} L${x},${y + 7} L${x - 7},${y} z`, fill: '#fff', stroke: color, 'stroke-width': 2 }, mg);
      break;
    case 'discarded':
      el('path', { d: `M${x - 6},${y - 6} L${x + 6},${y + 6} M${x + 6},${y - 6} L${x - 6},${y + 6}`, stroke: color, 'stroke-width': 2.4 }, mg);
      break;
    case 'taken':
    case 'started':
      el('circle', { cx: x, cy: y, r: 6, fill: color, stroke: '#fff', 'stroke-width': 1.5 }, mg);
      break;
    case 'timer':
      el('path', { d: `M${x - 5},${y - 7} L${x + 5},${y - 7} L${x},${y} L${x + 5},${y + 7} L${x - 5},${y + 7} L${x},${y} z`, fill: color }, mg);
      break;
    case 'exit':
      el('rect', { x: x - 6, y: y - 6, width: 12, height: 12, fill: color, rx: 2 }, mg);
      break;
    default:
      el('circle', { cx: x, cy: y, r: 4.5, fill: '#fff', stroke: color, 'stroke-width': 2 }, mg);
  }
  text(mg, x + 11 + shift, y + 4, clip(mk.text, lw - 26 - shift), { class: `mark-label mark-label-${mk.kind}`, fill: color });
}

export function legend(): HTMLElement {
  const div = document.createElement('div');
  div.className = 'legend';
  const states: LaneState[] = ['running', 'handler', 'halted', 'wait-for-sipi', 'smm', 'descheduled', 'shutdown'];
  for (const s of states) {
    const span = document.createElement('span');
    span.innerHTML = `<i style="background:${STATE_STYLE[s].color}"></i>${STATE_STYLE[s].label}`;
    div.appendChild(span);
  }
  const marks: [string, string][] = [['●', 'event taken / started'], ['◇', 'latched (held pending)'], ['✕', 'discarded'], ['→', 'message: sent → arrives']];
  for (const [sym, what] of marks) {
    const span = document.createElement('span');
    span.innerHTML = `<b>${sym}</b>${what}`;
    div.appendChild(span);
  }
  return div;
}
