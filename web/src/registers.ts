// The registers of every CPU after one step of a run: activity, SMM, IF, TPR/PPR/SVR, IRR/ISR/TMR bits, latched
// and held events, vCPU state; a cell that the step changed is highlighted.

import type { CpuState, MachineState, RawStep } from './types.js';
import type { Diagram } from './classify.js';

const hex = (v: number, w = 2): string => `0x${v.toString(16).padStart(w, '0')}`;
const vectors = (v: number[]): string => (v.length ? v.map((x) => hex(x)).join(' ') : '—');

type Row = [string, (c: CpuState) => string];

const ROWS: Row[] = [
  ['activity', (c) => c.activity],
  ['SMM', (c) => (c.smm ? 'yes' : 'no')],
  ['IF', (c) => (c.if ? '1' : '0')],
  ['NMI blocked', (c) => (c.nmiBlocked ? 'yes' : 'no')],
  ['latched', (c) => (c.latched.length ? c.latched.join(', ') : '—')],
  ['held', (c) => (c.held.length ? c.held.map((h) => `${h.event} (${h.blockedBy})`).join(', ') : '—')],
  ['IRR', (c) => vectors(c.irr)],
  ['ISR', (c) => vectors(c.isr)],
  ['TMR', (c) => vectors(c.tmr)],
  ['TPR', (c) => hex(c.tpr)],
  ['PPR', (c) => hex(c.ppr)],
  ['SVR', (c) => `${hex(c.svr, 3)}${c.svr & 0x100 ? '' : ' (soft-disabled)'}`],
  ['APIC', (c) => `${c.apicMode}, ID ${c.apicId}`],
  ['LDR', (c) => hex(c.ldr, 8)],
  ['ESR', (c) => hex(c.esr)],
  ['LVT timer', (c) => hex(c.lvtTimer, 5)],
  ['timer count', (c) => String(c.timerCount)],
  ['VMX', (c) => c.vmx],
];
const VCPU_ROWS: Row[] = [
  ['vCPU', (c) => (c.running === null ? '—' : c.running ? 'running' : 'descheduled')],
  ['PIR', (c) => vectors(c.pir)],
];

function cell(tr: HTMLTableRowElement, tag: 'td' | 'th', s: string, changed = false): void {
  const c = document.createElement(tag);
  c.textContent = s;
  if (changed) c.className = 'changed';
  tr.appendChild(c);
}

/** The panel for step `i` of a replayed run (state before it: the previous step's, or the initial state). */
export function renderRegisters(target: HTMLElement, d: Diagram, steps: RawStep[], initial: MachineState | undefined, i: number): void {
  target.replaceChildren();
  const s = d.steps[i], raw = steps[i];
  const head = document.createElement('div');
  head.className = 'reg-head';
  head.innerHTML = `<div class="reg-step">Step ${i + 1} of ${d.steps.length}</div>`;
  const what = document.createElement('div');
  what.className = 'reg-what';
  what.textContent = s.text;
  head.appendChild(what);
  const effects = s.effects.filter((e) => e !== s.text);
  if (effects.length) {
    const ul = document.createElement('ul');
    ul.className = 'reg-effects';
    for (const e of effects) {
      const li = document.createElement('li');
      li.textContent = e;
      ul.appendChild(li);
    }
    head.appendChild(ul);
  }
  target.appendChild(head);
  const after = raw?.state;
  if (!after) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'This run comes from a trace file: it has the steps, not the machine state (open the test itself for registers).';
    target.appendChild(p);
    return;
  }
  const before = i > 0 ? steps[i - 1].state : initial;
  const table = document.createElement('table');
  table.className = 'registers';
  const hr = document.createElement('tr');
  cell(hr, 'th', `t = ${after.time}`);
  after.cpus.forEach((_, c) => cell(hr, 'th', `P${c}`));
  table.appendChild(hr);
  const rows = after.cpus.some((c) => c.running !== null) ? [...ROWS, ...VCPU_ROWS] : ROWS;
  for (const [name, f] of rows) {
    const tr = document.createElement('tr');
    cell(tr, 'th', name);
    after.cpus.forEach((c, k) => {
      const v = f(c);
      cell(tr, 'td', v, before !== undefined && f(before.cpus[k]) !== v);
    });
    table.appendChild(tr);
  }
  target.appendChild(table);
  const extra = document.createElement('dl');
  extra.className = 'reg-extra';
  const add = (k: string, v: string, changed: boolean): void => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    if (changed) dd.className = 'changed';
    extra.append(dt, dd);
  };
  const flight = (m: MachineState): string => m.inFlight.map((w) => `${w.mode}${w.mode === 'fixed' || w.mode === 'lowest' || w.mode === 'sipi' ? ` ${hex(w.vector)}` : ''} ${w.source < 0 ? 'platform' : `P${w.source}`}→P${w.target}`).join(', ') || '—';
  add('in flight', flight(after), before !== undefined && flight(before) !== flight(after));
  for (const [k, v] of Object.entries(after.observables)) add(k, v, before !== undefined && before.observables[k] !== v);
  target.appendChild(extra);
}
