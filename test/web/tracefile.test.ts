// A trace file (lapis run --json --trace-json) in the web app: its typed runs rebuilt step by step give what a
// replay in the page gives (the machine after every step, the messages sent and arrived), so its diagrams are exact;
// a file from before typed records still draws from its text.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { runLitmus } from '../../src/explore/run.js';
import { replay, run, witness } from '../../web/src/engine.js';
import { load } from '../../web/src/front.js';
import { profileData as P } from '../../web/src/profiles.js';
import { classify } from '../../web/src/classify.js';
import { answerOf, applyChange, isTraceJson, tracesOf } from '../../web/src/tracefile.js';

/** A test as the worker gets it: parsed by the page, through postMessage's structured clone. */
const T = (text: string) => structuredClone(load(text));

describe('trace files', () => {
  it('over the catalog: each run rebuilt from its records is the replay of the same steps, and draws exactly', () => {
    let compared = 0;
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus'))) {
      const text = readFileSync(`litmus/${f}`, 'utf8');
      // The page's own search, for the run to each outcome where the shortest is not found within the bound.
      const a = run(T(text), P('spec'), { maxStates: 1_000 });
      // Each outcome's shortest run is searched for twice here: tests with many outcomes are left to the schema test.
      if (a.outcomes.length > 6) continue;
      const file = JSON.parse(JSON.stringify(runLitmus(text, { trace: true, maxStates: 1_000 }))) as unknown;
      if (!isTraceJson(file)) throw new Error(`${f}: not a trace file`);
      expect(answerOf(file).outcomes.map((o) => o.key), f).toEqual(a.outcomes.map((o) => o.key));
      for (const [key, t] of tracesOf(file)) {
        const o = a.outcomes.find((x) => x.key === key)!;
        const r = replay(T(text), P('spec'), witness(T(text), P('spec'), key, o.witness, a.states * 2));
        expect(t.initial, f).toEqual(r.initial);
        expect(t.steps.map((s) => [s.kind, s.actor, s.text]), f).toEqual(r.steps.map((s) => [s.kind, s.actor, s.text]));
        t.steps.forEach((s, i) => {
          expect(s.state, `${f} ${key} step ${i + 1}`).toEqual(r.steps[i].state);
          expect(s.sent, `${f} step ${i + 1}`).toEqual(r.steps[i].sent);
          expect(s.arrived, `${f} step ${i + 1}`).toEqual(r.steps[i].arrived);
        });
        expect({ ...t, steps: [] }).toEqual({ ...r, steps: [] });
        expect(classify(t).exact).toBe(true);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(160);
  });

  it('a change applies to the state before it: bits set and cleared, in the model\'s order, values replaced', () => {
    const [cpu] = JSON.parse(JSON.stringify(runLitmus(readFileSync('litmus/seed-000-sipi-during-smm.litmus', 'utf8'), { trace: true }).traces![0].initial.cpus)) as never[];
    const after = applyChange({ ...(cpu as object), irr: [0x20, 0x80], latched: ['smi'] } as never, { irr: { set: [0x40], cleared: [0x80] }, latched: { set: ['init'] }, tpr: { from: 0, to: 0x20 } });
    expect(after).toMatchObject({ irr: [0x20, 0x40], latched: ['init', 'smi'], tpr: 0x20 });
  });

  it('a file from before typed records (steps as text) still gives its runs, with lane states inferred', () => {
    const old = {
      test: 't', profile: 'spec', condition: 'exists (x = 1)', ok: true, observation: 'Sometimes', outcomes: [{ values: { x: 1 }, satisfies: true, count: 1 }],
      witnesses: { positive: 1, negative: 0 }, complete: true, cutBy: null, nonTerminating: false, states: 3, finals: 1, ms: 1,
      traces: [{ outcome: { x: 1 }, satisfies: true, steps: [{ step: 'P0 send init -> P1', effects: ['P0 ipi init 0x0 dest 0x1'] }, { step: 'bus: init from P0 arrives at P1', effects: [] }] }],
    };
    expect(isTraceJson(old)).toBe(true);
    const t = tracesOf(old as never).get('x=1')!;
    expect(t.steps.map((s) => [s.kind, s.actor])).toEqual([['cpu', 'P0'], ['deliver', '']]);
    expect(t.cpus).toBe(2);
    expect(classify(t).exact).toBe(false);
  });
});
