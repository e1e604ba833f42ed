// Where the raw search's time goes (the raw-throughput row's search: bring-up N = 3, no POR, no symmetry). Its state
// graph is recorded once; then the same depth-first search is replayed over it, each replay doing one part more:
//   search   the explorer's own work: the frames, the visited set's probes and Tarjan's stack, with each step's next
//            state and hash read from the recording;
//   model    + the model's step (Simulator.apply), its writes noted (src/arch/writes.ts), and the way back: the step
//            undone from its log, or saved on the undo stack and undone when its frame closes (src/explore/undo.ts);
//   hash     + the incremental hash from the noted writes (StateHasher.child after beforeStep, as the explorer does);
// and the explorer itself, whose time beyond the hash replay is each state's enabled steps and the glue between the
// parts. The replays are interleaved with the real search, round by round (the host's load moves), median of each.
import { parseLitmus } from '../src/litmus/parse.js';
import { Simulator } from '../src/sim/sim.js';
import { explore } from '../src/explore/explore.js';
import { StateHasher } from '../src/explore/hasher.js';
import { VisitedSet } from '../src/explore/visited.js';
import { applyStep, successors } from '../src/explore/successors.js';
import { UndoStack } from '../src/explore/undo.js';
import { bringupLitmus } from '../src/scenarios/bringup.js';

interface Graph { root: Int32Array; hash: number[]; next: number[][]; step: number[][]; edges: number }
interface Frame { aux: Uint32Array; undoFrom: number; id: number; next: number; index: number; lowlink: number; tpos: number }

const PARTS = ['search', 'model', 'hash'] as const;

function simulator(): Simulator {
  const r = parseLitmus(bringupLitmus(3, true));
  if (!r.ok) throw new Error('bench test does not parse');
  return new Simulator(r.test);
}

/** The search's state graph: each state's hash, its steps and the states they lead to (ids in discovery order). */
function record(sim: Simulator, hasher: StateHasher): Graph {
  const m = sim.machine, live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
  const ids = new Map<number, number>(), g: Graph = { root: live.slice(), hash: [], next: [], step: [], edges: 0 };
  const aux = new Uint32Array(hasher.auxLength);
  const open: { state: Int32Array; aux: Uint32Array; id: number; steps: number[]; at: number }[] = [];
  const add = (h: number): number => {
    const id = g.hash.length;
    ids.set(h, id);
    g.hash.push(h);
    g.next.push([]);
    g.step.push([]);
    const steps: number[] = [];
    successors(sim, null, steps, []);
    open.push({ state: live.slice(), aux: aux.slice(), id, steps, at: 0 });
    return id;
  };
  add(hasher.full(aux));
  while (open.length > 0) {
    const f = open[open.length - 1];
    if (f.at === f.steps.length) {
      open.pop();
      continue;
    }
    const s = f.steps[f.at++];
    live.set(f.state);
    if (!applyStep(sim, s)) throw new Error('bench test overflows the bus');
    const h = hasher.child(f.state, f.aux, aux);
    g.next[f.id].push(ids.get(h) ?? add(h));
    g.step[f.id].push(s);
    g.edges++;
  }
  return g;
}

/** The search replayed over `g`, doing the parts up to `part`; its time in ms. */
function replay(g: Graph, sim: Simulator, hasher: StateHasher, part: number): number {
  const t0 = performance.now();
  const m = sim.machine, live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
  const aux = new Uint32Array(hasher.auxLength), visited = new VisitedSet(), undo = new UndoStack();
  const stack: Frame[] = [], pool: Frame[] = [], tHash: number[] = [];
  let nextIndex = 0;
  live.set(g.root);
  hasher.full(aux);
  const push = (id: number, stepped: boolean): void => {
    const f = pool.pop() ?? { aux: new Uint32Array(aux.length), undoFrom: 0, id: 0, next: 0, index: 0, lowlink: 0, tpos: 0 };
    f.undoFrom = stepped ? undo.save(hasher.log) : undo.top;
    f.aux.set(aux);
    f.id = id;
    f.next = 0;
    f.index = f.lowlink = nextIndex++;
    f.tpos = tHash.length;
    tHash.push(g.hash[id]);
    visited.add(g.hash[id], f.index);
    stack.push(f);
  };
  push(0, false);
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.next < g.next[f.id].length) {
      const k = f.next++, c = g.next[f.id][k];
      if (part >= 1) {
        hasher.beforeStep();
        applyStep(sim, g.step[f.id][k]);
      }
      // The hash agrees with the recording's: the replay takes each step from the state it was recorded from.
      if (part >= 2 && hasher.child(null, f.aux, aux) !== g.hash[c]) throw new Error('replay hash differs from the recording');
      const idx = visited.index(g.hash[c]);
      if (idx === undefined) push(c, part >= 1);
      else {
        if (part >= 1) hasher.undo(live);
        if (idx >= 0 && idx < f.lowlink) f.lowlink = idx;
      }
      continue;
    }
    stack.pop();
    undo.restore(live, f.undoFrom);
    pool.push(f);
    const parent = stack[stack.length - 1];
    if (f.lowlink === f.index) {
      while (tHash.length > f.tpos) visited.setIndex(tHash.pop()!, -1);
    } else if (parent && f.lowlink < parent.lowlink) parent.lowlink = f.lowlink;
  }
  hasher.release();
  if (visited.size !== g.hash.length) throw new Error(`replay found ${visited.size} states, the recording ${g.hash.length}`);
  return performance.now() - t0;
}

export interface SplitRow { part: string; nsPerStep: number }

/** The split, ns per step, each part's own share (median of `rounds` after a warm-up); and the steps per state. */
export function rawSplit(rounds = 5): { rows: SplitRow[]; states: number; stepsPerState: number } {
  const sim = simulator(), hasher = new StateHasher(sim);
  const g = record(sim, hasher);
  const times: number[][] = [[], [], [], []];
  for (let r = 0; r <= rounds; r++) {
    const t = PARTS.map((_, part) => replay(g, sim, hasher, part));
    t.push(explore(simulator(), { por: false, symmetry: false }).ms);
    if (r > 0) t.forEach((ms, i) => times[i].push(ms));
  }
  const med = times.map((x) => [...x].sort((a, b) => a - b)[x.length >> 1] * 1e6 / g.edges);
  const rows: SplitRow[] = [
    { part: 'search (frames, visited set, Tarjan)', nsPerStep: med[0] },
    { part: 'model step (its writes noted) and its undo', nsPerStep: med[1] - med[0] },
    { part: 'incremental hash from the noted writes (mixes, derived time words, bus)', nsPerStep: med[2] - med[1] },
    { part: 'enabled steps and glue (the explorer against the hash replay)', nsPerStep: med[3] - med[2] },
    { part: 'the explorer, whole', nsPerStep: med[3] },
  ];
  return { rows, states: g.hash.length, stepsPerState: g.edges / g.hash.length };
}

/** The split as a markdown table, with what a state costs and the rate without the hash. */
export function splitTable(s: ReturnType<typeof rawSplit>): string {
  const per = (ns: number): string => `${(ns * s.stepsPerState / 1000).toFixed(2)} us`;
  const whole = s.rows[4].nsPerStep, hash = s.rows[2].nsPerStep;
  const rate = (ns: number): string => `${Math.round(1e9 / (ns * s.stepsPerState) / 1000)}k states/s`;
  return [
    '| part | ns per step | per state |', '|---|---:|---:|',
    ...s.rows.map((r) => `| ${r.part} | ${r.nsPerStep.toFixed(0)} | ${per(r.nsPerStep)} |`),
  ].join('\n') + `\n\n${s.states} states, ${s.stepsPerState.toFixed(2)} steps each: ${rate(whole)} whole; ${rate(whole - hash)} with no hash at all.`;
}
