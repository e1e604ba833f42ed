// The text of a trace (`lapis run --trace`): a title saying what the run shows (a witness of an outcome, a
// counterexample to the condition), then one row per step and one column per CPU, agent and (for vCPU tests) the
// hypervisor. A step's op is in its process's column with its source line:col; an arrival, the model's trace
// lines and the registers a step changed are in the column of the CPU they concern, so a `preempt P1` by D0 shows
// P1's IsRunning clearing in P1's column.

import type { TraceRecord, TraceStepRecord } from './records.js';
import type { CpuChange, FieldChange } from './state.js';

export interface TraceLanes {
  cpus: number;
  /** `D0`, `D3`: the test's agents. */
  agents: string[];
  /** A vCPU test: the hypervisor's work has a column. */
  hypervisor: boolean;
}

/** Widest column before a cell wraps. */
const MAX_WIDTH = 36;

export function traceTitle(t: TraceRecord, condition: string): string {
  const n = `(${t.steps.length} step${t.steps.length === 1 ? '' : 's'})`;
  if (t.nonTerminating) return t.role === 'counterexample' ? `Counterexample to ${condition}: a run into a cycle with no way out ${n}:` : `A run into a cycle with no way out ${n}:`;
  if (t.role === 'counterexample') {
    return `Counterexample to ${condition}: outcome ${t.key} ${condition.startsWith('forall') ? 'does not satisfy the condition' : 'satisfies the condition'} ${n}:`;
  }
  if (t.role === 'witness') return `Witness of outcome ${t.key}, which satisfies ${condition} ${n}:`;
  return `Run to outcome ${t.key}, which does not satisfy ${condition} ${n}:`;
}

const hex = (v: unknown): string => `0x${Number(v).toString(16)}`;
const bool = (v: unknown): string => (v === true ? '1' : v === false ? '0' : String(v));

/** The labels and renderings of CpuState fields in the text; a field not here (the timer's count) is JSON only. */
const FIELDS: Record<string, { label: string; value: (v: unknown) => string }> = {
  activity: { label: '', value: String },
  smm: { label: 'SMM ', value: bool },
  if: { label: 'IF ', value: bool },
  nmiBlocked: { label: 'NMI-blocked ', value: bool },
  tpr: { label: 'TPR ', value: hex },
  ppr: { label: 'PPR ', value: hex },
  svr: { label: 'SVR ', value: hex },
  ldr: { label: 'LDR ', value: hex },
  esr: { label: 'ESR ', value: hex },
  lvtTimer: { label: 'LVT-timer ', value: hex },
  apicMode: { label: 'APIC ', value: String },
  apicId: { label: 'APIC-ID ', value: hex },
  vmx: { label: 'VMX ', value: String },
  running: { label: 'IsRunning ', value: bool },
  held: { label: 'held ', value: (v) => (v as { event: string; blockedBy: string }[]).map((h) => `${h.event} (${h.blockedBy})`).join(', ') || 'none' },
};
const SETS: Record<string, string> = { irr: 'IRR', isr: 'ISR', tmr: 'TMR', pir: 'PIR', latched: 'latched' };

/** One CPU's changes in a few words: `IRR +0x80`, `TPR 0x0->0x20`, `halted->active`, `latched +smi`. */
export function changeText(c: CpuChange): string[] {
  const out: string[] = [];
  for (const [k, ch] of Object.entries(c) as [string, FieldChange][]) {
    if (k in SETS) {
      const s = ch as { set?: (number | string)[]; cleared?: (number | string)[] };
      const v = (x: number | string): string => (typeof x === 'number' ? hex(x) : x);
      out.push(`${SETS[k]} ${[...(s.set ?? []).map((x) => `+${v(x)}`), ...(s.cleared ?? []).map((x) => `-${v(x)}`)].join(' ')}`);
    } else if (k in FIELDS) {
      const f = FIELDS[k], d = ch as { from: unknown; to: unknown };
      out.push(`${f.label}${f.value(d.from)}->${f.value(d.to)}`);
    }
  }
  return out;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    const at = cut > width / 3 ? cut : width;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).trimStart();
  }
  out.push(rest);
  return out;
}

/** The cells of one step: column name -> lines. */
function cells(s: TraceStepRecord, columns: Set<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const put = (col: string, line: string): void => {
    const c = columns.has(col) ? col : 'platform';
    out.set(c, [...(out.get(c) ?? []), line]);
  };
  const where = (pos: { line: number; col: number } | undefined): string => (pos ? `${pos.line}:${pos.col}` : '');
  switch (s.kind) {
    case 'op':
      put(s.lane, s.op?.implicit ? `${s.op.text}${s.op.source ? `, block ${where(s.op.source)}` : ''}` : `${where(s.op?.source)} ${s.op?.text ?? s.text}`.trim());
      break;
    case 'event':
      put(s.lane, `takes ${s.event?.name ?? '?'}${s.event?.vector !== undefined ? ` 0x${s.event.vector.toString(16)}` : ''}`);
      break;
    case 'hypervisor':
      put('hypervisor', s.text);
      break;
    case 'delivery':
      put(`P${s.cpu}`, `<- ${s.text.replace(/^bus: /, '').replace(/ arrives at P\d+$/, '')}`);
      break;
    case 'time':
      break;
  }
  for (const e of s.effects) {
    if (e === s.text || e.startsWith('time: ')) continue;
    const who = e.slice(0, e.indexOf(' '));
    if (s.kind === 'hypervisor' && who === `P${s.cpu}`) put('hypervisor', e);
    else put(who, e.slice(who.length + 1));
  }
  for (const [cpu, ch] of Object.entries(s.changed)) {
    const words = changeText(ch);
    if (words.length > 0) put(cpu, `[${words.join(', ')}]`);
  }
  return out;
}

/** The trace as text: its title, a header row and the steps, one column per lane. */
export function formatTraceText(t: TraceRecord, condition: string, lanes: TraceLanes): string[] {
  const names = [...Array.from({ length: lanes.cpus }, (_, c) => `P${c}`), ...lanes.agents, ...(lanes.hypervisor ? ['hypervisor'] : [])];
  const columns = new Set(names);
  const rows = t.steps.map((s) => cells(s, columns));
  if (rows.some((r) => r.has('platform'))) {
    names.push('platform');
    columns.add('platform');
  }
  const widths = names.map((n) => {
    let w = n.length;
    for (const r of rows) for (const l of r.get(n) ?? []) w = Math.max(w, Math.min(l.length, MAX_WIDTH));
    return w;
  });
  let timeWidth = 4;
  for (const s of t.steps) timeWidth = Math.max(timeWidth, String(s.time).length + (s.kind === 'time' ? 3 : 0));
  const stepWidth = Math.max(4, String(t.steps.length).length);
  const line = (step: string, time: string, parts: string[]): string =>
    `  ${step.padStart(stepWidth)}  ${time.padStart(timeWidth)}  ${parts.map((p, i) => p.padEnd(widths[i])).join('  ')}`.trimEnd();
  const out = [traceTitle(t, condition), line('step', 'time', names)];
  t.steps.forEach((s, i) => {
    const wrapped = names.map((n, c) => (rows[i].get(n) ?? []).flatMap((l) => wrap(l, widths[c])));
    const height = Math.max(1, ...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) {
      const time = k > 0 ? '' : s.kind === 'time' ? `-> ${s.time}` : String(s.time);
      out.push(line(k === 0 ? String(s.index) : '', time, wrapped.map((w) => w[k] ?? '')));
    }
  });
  return out;
}
