// What each step of a run means for a sequence diagram: whose lane it is on, which messages leave and arrive (and
// what became of them: accepted, latched, discarded, started), which event a CPU took, and the state of every lane
// after it. The input is the simulator's step kind, description and trace lines (RawStep), plus, from a replay,
// the bus records and machine state; a trace file without state gets the same classification from its text, with
// lane states inferred. Structured so that typed trace records can replace the text matching here.

import type { CpuState, MachineState, RawStep, RawTrace, WireMsg } from './types.js';

export type LaneKind = 'cpu' | 'agent' | 'hypervisor' | 'platform';
export interface Lane {
  id: string;
  label: string;
  kind: LaneKind;
}

export type LaneState = 'running' | 'handler' | 'halted' | 'wait-for-sipi' | 'smm' | 'descheduled' | 'shutdown' | 'unplugged' | 'agent' | 'done';

export type Fate = 'accepted' | 'latched' | 'pending' | 'discarded' | 'started' | 'taken' | 'vmexit' | 'in flight';

export interface Message {
  id: number;
  from: string;
  to: string;
  label: string;
  sentAt: number;
  /** The step at which it arrives (the send step for a direct signal), or null while it is still in flight. */
  arrivedAt: number | null;
  fate: Fate;
  /** Why, for latched and discarded (`in SMM`, `not in wait-for-sipi`). */
  reason: string;
  via: 'bus' | 'signal' | 'hypervisor';
}

export type MarkKind = 'op' | 'taken' | 'latched' | 'discarded' | 'accepted' | 'started' | 'pending' | 'timer' | 'exit' | 'hypervisor';
export interface Mark {
  lane: string;
  kind: MarkKind;
  text: string;
}

export type StepCategory = 'op' | 'send' | 'signal' | 'arrival' | 'take' | 'time' | 'hypervisor';

export interface DiagramStep {
  index: number;
  category: StepCategory;
  /** The lane the step happens on (null for the bus and for time). */
  lane: string | null;
  text: string;
  effects: string[];
  marks: Mark[];
  /** For time steps: the new virtual time. */
  time: number | null;
  /** Every lane's state after this step. */
  states: Record<string, LaneState>;
}

export interface Diagram {
  test: string;
  profile: string;
  lanes: Lane[];
  initial: Record<string, LaneState>;
  steps: DiagramStep[];
  messages: Message[];
  /** Lane states come from the machine (replay), not inferred from text. */
  exact: boolean;
  blockedAt: number | null;
}

const CPU_RE = /^P(\d+)$/;
const TAKES_RE = /^P(\d+) takes (.+)$/;
const SIGNAL_RE = /^(D\d+) (smi|nmi|init) -> (P\d+|all)$/;
const ARRIVES_RE = /^bus: (\S+)(?: 0x([0-9a-f]+))? from (platform|P\d+) arrives at P(\d+)$/;
const IPI_RE = /^(P\d+|platform) ipi (\S+) 0x([0-9a-f]+) dest 0x([0-9a-f]+)( shorthand)?/;
const IOAPIC_SENDS_RE = /^platform ioapic: pin \d+ sends vector (\d+) mode (\d) (physical|logical) dest (\d+)/;
const MODES = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'];
const MSI_RE = /^D\d+ msi /;
const AVIC_IPI_RE = /^P\d+ avic: ipi 0x([0-9a-f]+) to mask 0x([0-9a-f]+)/;
const POSTS_RE = /posts 0x([0-9a-f]+) to (P\d+(?:, P\d+)*)$/;
const HYPERVISOR_RE = /\bkvm:|VM exit|#VMEXIT|VM entry fails|vcpu (blocked|woken)/;

const hex = (v: number): string => `0x${v.toString(16)}`;
const msgLabel = (mode: string, vector: number | null): string =>
  mode === 'fixed' || mode === 'lowest' || mode === 'sipi' || mode === 'extint' ? `${mode === 'fixed' ? 'IPI' : mode.toUpperCase()} ${vector !== null ? hex(vector) : ''}`.trim() : mode.toUpperCase();

/** Lanes: one per CPU, per agent, the hypervisor for vCPU tests, the platform when something unattributed sends. */
export function lanesOf(t: RawTrace): Lane[] {
  const lanes: Lane[] = [];
  for (let c = 0; c < t.cpus; c++) lanes.push({ id: `P${c}`, label: t.vcpus ? `P${c} (vCPU)` : `P${c}`, kind: 'cpu' });
  for (const a of t.agents) lanes.push({ id: a, label: `${a} (agent)`, kind: 'agent' });
  if (t.vcpus) lanes.push({ id: 'hypervisor', label: 'hypervisor', kind: 'hypervisor' });
  return lanes;
}

interface Pending {
  msg: Message;
  source: string;
  /** Null: any (a device's interrupt in a text trace, whose message the trace does not describe). */
  mode: string | null;
  vector: number | null;
  /** Known target (from a replay), or null: any target not yet reached (text only). */
  target: string | null;
  /** Text only: the physical destination the trace line names, which is the target's index unless IDs were changed. */
  dest: number | null;
  reached: Set<string>;
}

export function classify(t: RawTrace): Diagram {
  const lanes = lanesOf(t);
  const exact = t.steps.every((s) => s.state !== undefined) && t.initial !== undefined;
  const messages: Message[] = [];
  const pending: Pending[] = [];
  const steps: DiagramStep[] = [];
  const handlers = new Map<string, string[]>();
  const inferred = new Map<string, LaneState>();
  const beforeSmm = new Map<string, LaneState>();
  for (const l of lanes) {
    handlers.set(l.id, []);
    inferred.set(l.id, l.kind === 'cpu' ? 'running' : 'agent');
  }
  const ensureLane = (id: string): string => {
    if (!lanes.some((l) => l.id === id)) lanes.push({ id, label: id === 'platform' ? 'platform (I/O APIC)' : id, kind: id === 'platform' ? 'platform' : 'agent' });
    if (!handlers.has(id)) handlers.set(id, []);
    if (!inferred.has(id)) inferred.set(id, 'agent');
    return id;
  };
  let prev: MachineState | undefined = t.initial;
  const lastAgentStep = new Map<string, number>();
  t.steps.forEach((r, i) => {
    if (r.kind === 'agent') lastAgentStep.set(r.actor, i);
  });

  t.steps.forEach((r, i) => {
    const step: DiagramStep = { index: i, category: 'op', lane: null, text: r.text, effects: r.effects, marks: [], time: null, states: {} };
    const newMsg = (from: string, to: string, label: string, via: Message['via'], arrived: boolean): Message => {
      const m: Message = { id: messages.length, from, to, label, sentAt: i, arrivedAt: arrived ? i : null, fate: arrived ? 'pending' : 'in flight', reason: '', via };
      messages.push(m);
      return m;
    };
    if (r.kind === 'time') {
      step.category = 'time';
      const m = /to (\d+)/.exec(r.text);
      step.time = r.state ? r.state.time : m ? Number(m[1]) : null;
      for (const e of r.effects) {
        const f = /^(P\d+) apic: timer fired/.exec(e);
        if (f) step.marks.push({ lane: f[1], kind: 'timer', text: 'timer fires' });
      }
    } else if (r.kind === 'deliver') {
      step.category = 'arrival';
      arrival(r, i, step, pending, prev);
    } else {
      let lane = ensureLane(r.actor);
      if (t.vcpus && /^P\d+ kvm:/.test(r.text)) lane = 'hypervisor';
      step.lane = lane;
      const takes = TAKES_RE.exec(r.text);
      const signal = SIGNAL_RE.exec(r.text);
      if (takes) {
        step.category = 'take';
        taken(takes[2], r, lane, step, handlers);
      } else if (signal) {
        step.category = 'signal';
        const targets = signal[3] === 'all' ? Array.from({ length: t.cpus }, (_, c) => `P${c}`) : [signal[3]];
        step.marks.push({ lane, kind: 'op', text: r.text.slice(r.actor.length + 1) });
        for (const to of targets) {
          const m = newMsg(lane, to, signal[2].toUpperCase(), 'signal', true);
          settleLatch(m, signal[2], to, r, prev);
          step.marks.push(fateMark(m));
        }
      } else if (lane === 'hypervisor') {
        step.category = 'hypervisor';
      } else {
        step.category = /^P\d+ send |^D\d+ (msi|irq) /.test(r.text) ? 'send' : 'op';
        opEffects(r, lane, step, handlers);
      }
      // Messages this step put on the bus: from a replay exactly, else from the ipi trace line (targets unknown).
      const sent: { source: string; target: string | null; mode: string | null; vector: number | null; dest: number | null }[] = [];
      if (r.sent) {
        for (const w of r.sent) sent.push({ source: w.source < 0 ? 'platform' : `P${w.source}`, target: `P${w.target}`, mode: w.mode, vector: w.vector, dest: null });
      } else {
        for (const e of r.effects) {
          const ipi = IPI_RE.exec(e), io = IOAPIC_SENDS_RE.exec(e);
          if (ipi) sent.push({ source: ipi[1], target: null, mode: ipi[2], vector: parseInt(ipi[3], 16), dest: ipi[5] ? null : parseInt(ipi[4], 16) });
          if (io) sent.push({ source: 'platform', target: null, mode: MODES[Number(io[2])], vector: Number(io[1]), dest: io[3] === 'physical' ? Number(io[4]) : null });
        }
        // An MSI: the message it puts on the bus has no trace line of its own.
        if (sent.length === 0 && MSI_RE.test(r.text)) sent.push({ source: 'platform', target: null, mode: null, vector: null, dest: null });
        textDirect(r, i, lane, t.cpus, newMsg);
      }
      for (const s of sent) {
        // The platform's messages a CPU's step causes (an EOI the I/O APIC answers) come from the platform.
        const from = s.source === 'platform' && lane.startsWith('P') ? ensureLane('platform') : lane;
        const m = newMsg(from, s.target ?? '?', s.mode === null ? 'IRQ' : msgLabel(s.mode, s.vector), 'bus', false);
        if (from !== lane && !step.marks.some((k) => k.lane === from)) step.marks.push({ lane: from, kind: 'op', text: `sends ${m.label}` });
        pending.push({ msg: m, source: s.source, mode: s.mode, vector: s.vector, target: s.target, dest: s.dest, reached: new Set() });
      }
      if (r.state && prev) direct(r, i, lane, prev, r.state, messages, newMsg);
      for (const e of r.effects) {
        if (/ not sent: /.test(e)) step.marks.push({ lane, kind: 'discarded', text: e.replace(/^P\d+ /, '') });
      }
    }
    hypervisorEffects(t, r, step, messages, i);
    for (const l of lanes) step.states[l.id] = laneState(l, r, i, { handlers, inferred, beforeSmm, lastAgentStep });
    steps.push(step);
    prev = r.state ?? prev;
  });
  const initial: Record<string, LaneState> = {};
  for (const l of lanes) initial[l.id] = l.kind === 'cpu' && t.initial ? fromCpu(t.initial.cpus[Number(l.id.slice(1))], 0) : l.kind === 'cpu' ? 'running' : 'agent';
  // A lane that appeared on the way (the platform's) has a state at every step.
  for (const s of steps) for (const l of lanes) s.states[l.id] ??= 'agent';
  // Messages whose target a text trace never named stay unaimed; drop the placeholder so nothing draws to '?'.
  return { test: t.test, profile: t.profile, lanes, initial, steps, messages: messages.filter((m) => m.to !== '?'), exact, blockedAt: t.blockedAt ?? null };

  function arrival(r: RawStep, i: number, step: DiagramStep, pend: Pending[], before: MachineState | undefined): void {
    const a = ARRIVES_RE.exec(r.text);
    const w: WireMsg | null = r.arrived ?? (a ? { source: a[3] === 'platform' ? -1 : Number(a[3].slice(1)), target: Number(a[4]), mode: a[1], vector: a[2] ? parseInt(a[2], 16) : -1 } : null);
    if (!w) return;
    const source = w.source < 0 ? 'platform' : `P${w.source}`, to = `P${w.target}`;
    step.lane = to;
    // Per source and target, messages arrive in the order sent (decision D-11): the oldest that fits is this one.
    const fits = (x: Pending): boolean => x.source === source && (x.mode === null || x.mode === w.mode) && (x.vector === null || w.vector < 0 || x.vector === w.vector)
      && (x.target === null ? !x.reached.has(to) : x.target === to && x.msg.arrivedAt === null);
    let p = pend.find((x) => fits(x) && (x.dest === null || x.dest === w.target)) ?? pend.find(fits);
    if (!p) {
      // Sent before the run began (or by something the trace does not show): from the platform.
      const from = ensureLane(source === 'platform' ? 'platform' : source);
      const m: Message = { id: messages.length, from, to, label: msgLabel(w.mode, w.vector >= 0 ? w.vector : null), sentAt: i, arrivedAt: i, fate: 'pending', reason: '', via: 'bus' };
      messages.push(m);
      p = { msg: m, source, mode: w.mode, vector: w.vector, target: to, dest: null, reached: new Set() };
    } else if (p.target === null) {
      // A text trace: one send may reach several targets; each arrival is its own message.
      p.reached.add(to);
      const label = p.mode === null ? msgLabel(w.mode, w.vector >= 0 ? w.vector : null) : p.msg.label;
      if (p.msg.to === '?') Object.assign(p.msg, { to, label });
      else {
        const m: Message = { ...p.msg, id: messages.length, to, label, arrivedAt: null };
        messages.push(m);
        p = { ...p, msg: m };
      }
    }
    const m = p.msg;
    m.arrivedAt = i;
    const targetLines = r.effects.filter((e) => e.startsWith(`${to} `));
    const discard = targetLines.find((e) => /discarded|dropped|no interrupt|no effect/.test(e)) ?? r.effects.find((e) => /dropped|no interrupt|no effect/.test(e));
    if (discard) {
      m.fate = 'discarded';
      m.reason = discard.replace(/^P\d+ /, '').replace(/^.*?(discarded|dropped)[:,]?\s*/, '') || 'discarded';
    } else if (targetLines.some((e) => /sipi: start/.test(e))) m.fate = 'started';
    else if (targetLines.some((e) => /VM exit \(SIPI\)/.test(e))) m.fate = 'vmexit';
    else if (targetLines.some((e) => /kept pending/.test(e))) {
      m.fate = 'latched';
      m.reason = /in SMM/.test(targetLines.join(' ')) ? 'in SMM' : 'held';
    } else if (w.mode === 'fixed' || w.mode === 'lowest') {
      const had = before?.cpus[w.target]?.irr.includes(w.vector) ?? false;
      m.fate = had ? 'discarded' : 'accepted';
      if (had) m.reason = `IRR ${hex(w.vector)} already set`;
    } else settleLatch(m, w.mode, to, r, before);
    step.marks.push(fateMark(m));
  }
}

/** Where an INIT/SMI/NMI/ExtINT went: held (latched, and by what), pending (taken at the next boundary), or taken. */
function settleLatch(m: Message, event: string, to: string, r: RawStep, before: MachineState | undefined): void {
  const lines = r.effects.filter((e) => e.startsWith(`${to} `));
  const drop = lines.find((e) => /dropped|merged/.test(e));
  if (drop) {
    m.fate = 'discarded';
    m.reason = drop.replace(/^P\d+ /, '');
    return;
  }
  if (lines.some((e) => /init: enter wait-for-sipi|init: BSP/.test(e)) && event === 'init') {
    m.fate = 'taken';
    return;
  }
  const after = r.state?.cpus[Number(to.slice(1))];
  if (!after) {
    m.fate = 'pending';
    return;
  }
  const held = after.held.find((h) => h.event === event);
  if (held) {
    m.fate = 'latched';
    m.reason = held.blockedBy;
  } else if (after.latched.includes(event)) m.fate = 'pending';
  else m.fate = before?.cpus[Number(to.slice(1))]?.latched.includes(event) ? 'discarded' : 'taken';
}

function fateMark(m: Message): Mark {
  const kind: MarkKind = m.fate === 'discarded' ? 'discarded' : m.fate === 'latched' ? 'latched' : m.fate === 'started' || m.fate === 'taken' || m.fate === 'vmexit' ? 'started' : m.fate === 'accepted' ? 'accepted' : 'pending';
  // The arrow carries the vector; the mark says what became of the message.
  const mode = m.label.split(' ')[0];
  const what = m.fate === 'accepted' ? `${m.label} → IRR` : m.fate === 'started' ? `${m.label}: starts` : m.fate === 'vmexit' ? `${mode}: VM exit` : `${mode} ${m.fate}`;
  return { lane: m.to, kind, text: m.reason ? `${what} (${m.reason})` : what };
}

function taken(what: string, r: RawStep, lane: string, step: DiagramStep, handlers: Map<string, string[]>): void {
  const stack = handlers.get(lane)!;
  const vector = r.effects.map((e) => /interrupt: vector (0x[0-9a-f]+)/.exec(e)).find((x) => x)?.[1];
  if (what === 'interrupt' || what === 'extint') stack.push(vector ?? what);
  else if (what === 'nmi') stack.push('NMI');
  else if (what === 'init') stack.length = 0;
  if (what === 'sipi-discard') {
    step.marks.push({ lane, kind: 'discarded', text: 'held SIPI discarded' });
    return;
  }
  const label = what === 'interrupt' ? `takes interrupt ${vector ?? ''}`.trim() : `takes ${what.toUpperCase()}`;
  step.marks.push({ lane, kind: 'taken', text: label });
}

function opEffects(r: RawStep, lane: string, step: DiagramStep, handlers: Map<string, string[]>): void {
  const op = r.text.slice(r.actor.length + 1);
  step.marks.push({ lane, kind: 'op', text: op });
  const stack = handlers.get(lane);
  if (stack && op === 'iret') stack.pop();
}

/**
 * A step that changes another CPU without the bus (an agent's post, AVIC setting a target's IRR, a wake-up): an
 * arrow from the actor to each CPU whose interrupt inputs it changed.
 */
function direct(r: RawStep, i: number, lane: string, before: MachineState, after: MachineState, messages: Message[],
  newMsg: (from: string, to: string, label: string, via: Message['via'], arrived: boolean) => Message): void {
  after.cpus.forEach((c, j) => {
    const to = `P${j}`;
    if (to === lane || messages.some((m) => m.sentAt === i && m.to === to)) return;
    const b = before.cpus[j];
    const irr = c.irr.filter((v) => !b.irr.includes(v));
    const pir = c.pir.filter((v) => !b.pir.includes(v));
    const what: string[] = [];
    if (irr.length) what.push(`IRR ${irr.map(hex).join(' ')}`);
    if (pir.length) what.push(`post ${pir.map(hex).join(' ')}`);
    if (c.running === true && b.running === false) what.push('wake');
    if (what.length === 0) return;
    const m = newMsg(lane, to, what.join(', '), r.kind === 'agent' ? 'signal' : 'hypervisor', true);
    m.fate = irr.length ? 'accepted' : 'pending';
  });
}

/** From text alone: the targets AVIC writes and the posted interrupts name (a replay sees them in the state). */
function textDirect(r: RawStep, i: number, lane: string, cpus: number,
  newMsg: (from: string, to: string, label: string, via: Message['via'], arrived: boolean) => Message): void {
  for (const e of r.effects) {
    const avic = AVIC_IPI_RE.exec(e), posts = POSTS_RE.exec(e);
    if (avic && !/IsRunning read first/.test(e)) {
      const mask = parseInt(avic[2], 16);
      for (let c = 0; c < cpus; c++) if (mask & (1 << c) && `P${c}` !== lane) newMsg(lane, `P${c}`, `IRR 0x${avic[1]}`, 'hypervisor', true).fate = 'accepted';
    } else if (posts) {
      for (const to of posts[2].split(', ')) if (to !== lane) newMsg(lane, to, `post 0x${posts[1]}`, 'hypervisor', true);
    }
  }
}

/** vCPU tests: exits to the hypervisor and its wake-ups, on the hypervisor lane. */
function hypervisorEffects(t: RawTrace, r: RawStep, step: DiagramStep, messages: Message[], i: number): void {
  if (!t.vcpus) return;
  for (const e of r.effects) {
    if (!HYPERVISOR_RE.test(e)) continue;
    const cpu = /^(P\d+) /.exec(e)?.[1];
    const text = e.replace(/^P\d+ /, '');
    if (/woken/.test(e) && cpu && !messages.some((m) => m.sentAt === i && m.to === cpu)) {
      messages.push({ id: messages.length, from: 'hypervisor', to: cpu, label: 'wake', sentAt: i, arrivedAt: i, fate: 'started', reason: '', via: 'hypervisor' });
    }
    step.marks.push({ lane: 'hypervisor', kind: /exit|EXIT|fails/.test(e) ? 'exit' : 'hypervisor', text: cpu ? `${cpu}: ${text}` : text });
  }
}

function fromCpu(c: CpuState, handlerDepth: number): LaneState {
  if (c.activity === 'unplugged') return 'unplugged';
  if (c.running === false) return 'descheduled';
  if (c.smm) return 'smm';
  if (c.activity === 'wait-for-sipi') return 'wait-for-sipi';
  if (c.activity === 'shutdown') return 'shutdown';
  if (c.activity === 'halted') return 'halted';
  return handlerDepth > 0 ? 'handler' : 'running';
}

interface Inference {
  /** Each lane's handler frames (interrupt/NMI handlers entered and not yet left by IRET). */
  handlers: Map<string, string[]>;
  /** From text alone: each lane's state so far, and the state it entered SMM from (RSM returns to it). */
  inferred: Map<string, LaneState>;
  beforeSmm: Map<string, LaneState>;
  lastAgentStep: Map<string, number>;
}

function laneState(l: Lane, r: RawStep, i: number, { handlers, inferred, beforeSmm, lastAgentStep }: Inference): LaneState {
  if (l.kind === 'agent') return (lastAgentStep.get(l.id) ?? -1) < i ? 'done' : 'agent';
  if (l.kind !== 'cpu') return 'agent';
  const depth = handlers.get(l.id)?.length ?? 0;
  if (r.state) return fromCpu(r.state.cpus[Number(CPU_RE.exec(l.id)![1])], depth);
  // From text alone: the state the trace lines imply, carried forward.
  let s = inferred.get(l.id)!;
  const mine = (e: string): boolean => e.startsWith(`${l.id} `);
  const lines = [r.text, ...r.effects].filter(mine);
  for (const e of lines) {
    if (/smi: enter SMM/.test(e)) {
      beforeSmm.set(l.id, s);
      s = 'smm';
    } else if (/rsm: leave SMM/.test(e)) s = beforeSmm.get(l.id) ?? 'running';
    else if (/init: enter wait-for-sipi/.test(e)) s = 'wait-for-sipi';
    else if (/sipi: start/.test(e) || /takes /.test(e)) s = s === 'smm' ? 'smm' : 'running';
    else if (/ (hlt|end of main block|idle \(hlt loop\))$/.test(e) && s !== 'smm') s = 'halted';
    else if (/vcpu blocked/.test(e)) s = 'descheduled';
    else if (/vcpu woken/.test(e)) s = 'halted';
  }
  inferred.set(l.id, s);
  return s === 'running' && depth > 0 ? 'handler' : s;
}

/** The first step at which two runs of one test under two profiles differ (what happened, or the state after). */
export function partingStep(a: RawTrace, b: RawTrace): number | null {
  const n = Math.min(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const x = a.steps[i], y = b.steps[i];
    if (x.text !== y.text || x.effects.join('\n') !== y.effects.join('\n')) return i;
    if (x.state && y.state && JSON.stringify(x.state) !== JSON.stringify(y.state)) return i;
  }
  if (a.blockedAt !== undefined || b.blockedAt !== undefined || a.steps.length !== b.steps.length) return n;
  return null;
}
