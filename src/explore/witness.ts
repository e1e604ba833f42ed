// Shortest witnesses: breadth-first search from the initial state to the first final state with a given
// outcome. Parent links are kept per visited hash, so this is for traces, bounded by `maxStates`.
import type { Simulator } from '../sim/sim.js';

export function shortestWitness(sim: Simulator, key: string, maxStates: number): number[] | null {
  sim.reset();
  const m = sim.machine;
  const parent = new Map<number, { from: number; step: number }>();
  const rootHash = sim.hash();
  parent.set(rootHash, { from: -1, step: -1 });
  let frontier: { hash: number; state: Uint32Array }[] = [{ hash: rootHash, state: m.snapshot() }];
  const steps: number[] = [];
  const pathTo = (h: number): number[] => {
    const p: number[] = [];
    for (let x = parent.get(h)!; x.from !== -1 || x.step !== -1; x = parent.get(x.from)!) p.push(x.step);
    return p.reverse();
  };
  while (frontier.length > 0 && parent.size <= maxStates) {
    const next: typeof frontier = [];
    for (const { hash, state } of frontier) {
      m.restore(state);
      sim.enabled(steps);
      if (steps.length === 0) {
        if (sim.outcome().key === key) return pathTo(hash);
        continue;
      }
      for (const s of [...steps]) {
        m.restore(state);
        sim.apply(s);
        const h = sim.hash();
        if (parent.has(h)) continue;
        parent.set(h, { from: hash, step: s });
        next.push({ hash: h, state: m.snapshot() });
      }
    }
    frontier = next;
  }
  return null;
}
