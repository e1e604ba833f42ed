// The steps a search follows from a state, and taking one.

import { StepKind, TIME_STEP, stepKind, type Simulator } from '../sim/sim.js';
import { HostError } from '../arch/errors.js';
import type { Reducer } from './por.js';

/**
 * The steps to follow from the live state into `out`: every enabled step, or a stubborn subset of them (then `all`
 * gets every enabled step, which the cycle proviso may add back, and the result is true; without a reducer `all` is
 * not touched). No step: a final state.
 * A reduction that is slow in one piece gives up, unreduced, once `expired` says so.
 */
export function successors(sim: Simulator, reducer: Reducer | null, out: number[], all: number[], expired?: () => boolean): boolean {
  // Nothing to reduce: the enabled steps go straight to `out`.
  const enabled = reducer ? all : out;
  sim.enabled(enabled);
  if (enabled.length === 1 && stepKind(enabled[0]) === StepKind.TIME && timeChangesNothing(sim)) enabled.pop();
  if (!reducer) return false;
  if (reducer.reduce(all, out, expired)) return true;
  // Emptied by pops: an array set to length 0 loses its backing store (sim.enabled).
  while (out.length > 0) out.pop();
  for (const s of all) out.push(s);
  return false;
}

/**
 * Whether letting time pass would only move the clock: every process is idle and the next deadline (a masked
 * timer, say) changes nothing once time is factored out. Such a state is final: nothing can happen any more.
 * (The simulator's exact hash: under symmetry a step to a permutation of the state is not "nothing".)
 */
function timeChangesNothing(sim: Simulator): boolean {
  if (!sim.relativeTime) return false;
  const m = sim.machine, saved = m.snapshot(), hash = sim.hash();
  sim.apply(TIME_STEP);
  const same = sim.hash() === hash;
  m.restore(saved);
  return same;
}

/**
 * Take a step; false when it would overflow the APIC bus's in-flight capacity (a test that sends without end,
 * e.g. a loop of IPIs nobody receives): the state space is unbounded there, so the search is cut short.
 */
export function applyStep(sim: Simulator, s: number): boolean {
  try {
    sim.apply(s);
    return true;
  } catch (e) {
    if (e instanceof HostError && e.code === 'bus-full') return false;
    throw e;
  }
}
