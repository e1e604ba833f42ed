// The web app's engine and diagram classification, in Node (the browser tests check the page itself).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { replay, run, witness } from '../../web/src/engine.js';
import { load, parse } from '../../web/src/front.js';
import { profileData as P } from '../../web/src/profiles.js';
import { classify, partingStep } from '../../web/src/classify.js';
import type { RawTrace, RunAnswer } from '../../web/src/types.js';

/** A test as the worker gets it: parsed by the page, through postMessage's structured clone. */
const T = (text: string) => structuredClone(load(text));

const read = (name: string): string => readFileSync(`litmus/${name}.litmus`, 'utf8');

function shortestRun(text: string, profile: string, pick: (a: RunAnswer) => RunAnswer['outcomes'][number]): { a: RunAnswer; trace: RawTrace; key: string } {
  const a = run(T(text), P(profile));
  const o = pick(a);
  const steps = witness(T(text), P(profile), o.key, o.witness, a.states * 2);
  return { a, trace: replay(T(text), P(profile), steps), key: o.key };
}

/** The trace without what only a replay knows: what a trace file (run --json --trace-json) gives. */
function textOnly(t: RawTrace): RawTrace {
  return { ...t, initial: undefined, steps: t.steps.map((s) => ({ kind: s.kind, actor: s.actor, text: s.text, effects: s.effects })) };
}

describe('web engine', () => {
  it('parses with line:col problems, and answers as lapis run does', () => {
    const bad = parse(read('seed-000-sipi-during-smm').replace('send init -> P1', 'send init -> P9'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0].line).toBe(19);
    const good = parse(read('seed-000-sipi-during-smm'));
    expect(good.ok && good.info).toMatchObject({ name: 'SIPI-during-SMM', cpus: 2, agents: ['D0'], vcpus: false });
    const a = run(T(read('seed-000-sipi-during-smm')), P('spec'));
    expect(a).toMatchObject({ ok: true, observation: 'Sometimes', complete: true });
    expect(a.outcomes.map((o) => o.key)).toEqual(['P1.activity=halted; booted=1', 'P1.activity=wait-for-sipi; booted=0']);
  });

  it('replays a run with the machine after each step, and stops at a step the profile does not enable', () => {
    const { trace } = shortestRun(read('seed-000-sipi-during-smm'), 'spec', (a) => a.outcomes.find((o) => o.satisfies)!);
    expect(trace.initial?.cpus[1].activity).toBe('halted');
    const last = trace.steps[trace.steps.length - 1].state!;
    expect(last.cpus[1].activity).toBe('wait-for-sipi');
    expect(last.observables).toEqual({ 'P1.activity': 'wait-for-sipi', booted: '0' });
    const smi = trace.steps.findIndex((s) => s.text === 'P1 takes smi');
    expect(trace.steps[smi].state!.cpus[1].smm).toBe(true);
    // Every step but time's and the bus's has an actor; a send puts a record on the bus.
    const send = trace.steps.find((s) => s.text === 'P0 send init -> P1')!;
    expect(send.sent).toEqual([{ source: 0, target: 1, mode: 'init', vector: 0 }]);
    const steps = witness(T(read('seed-000-sipi-during-smm')), P('spec'), 'P1.activity=wait-for-sipi; booted=0', [], 1000);
    const cut = replay(T(read('seed-000-sipi-during-smm')), P('spec'), [...steps.slice(0, 2), 9999]);
    expect(cut.blockedAt).toBe(2);
    expect(cut.steps).toHaveLength(2);
  });
});

describe('diagram classification', () => {
  const { trace } = shortestRun(read('seed-000-sipi-during-smm'), 'spec', (a) => a.outcomes.find((o) => o.satisfies)!);

  it('seed 000: INIT latched in SMM, both SIPIs discarded, the SMI from the agent, P1 in SMM then wait-for-SIPI', () => {
    const d = classify(trace);
    expect(d.exact).toBe(true);
    expect(d.lanes.map((l) => l.id)).toEqual(['P0', 'P1', 'D0']);
    const init = d.messages.find((m) => m.label === 'INIT')!;
    expect(init).toMatchObject({ from: 'P0', to: 'P1', fate: 'latched', reason: 'in SMM', via: 'bus' });
    expect(init.arrivedAt).toBeGreaterThan(init.sentAt);
    const sipis = d.messages.filter((m) => m.label === 'SIPI 0x10');
    expect(sipis.map((m) => m.fate)).toEqual(['discarded', 'discarded']);
    expect(sipis[0].reason).toMatch(/in SMM/);
    const smi = d.messages.find((m) => m.label === 'SMI')!;
    expect(smi).toMatchObject({ from: 'D0', to: 'P1', via: 'signal' });
    expect(smi.arrivedAt).toBe(smi.sentAt);
    const took = d.steps.findIndex((s) => s.text === 'P1 takes smi');
    expect(d.steps[took].states.P1).toBe('smm');
    expect(d.steps[took - 1].states.P1).toBe('halted');
    expect(d.steps[d.steps.length - 1].states.P1).toBe('wait-for-sipi');
    expect(d.steps[d.steps.length - 1].states.D0).toBe('done');
    expect(d.steps.filter((s) => s.category === 'time').map((s) => s.time)).toEqual([10, 12, 30]);
  });

  it('a trace file without state gets the same messages, lanes and end states from the text', () => {
    const exact = classify(trace), text = classify(textOnly(trace));
    expect(text.exact).toBe(false);
    expect(text.lanes.map((l) => l.id)).toEqual(exact.lanes.map((l) => l.id));
    const brief = (d: typeof exact): string[] => d.messages.map((m) => `${m.from}>${m.to} ${m.label} ${m.sentAt}-${m.arrivedAt} ${m.fate === 'latched' ? 'pending' : m.fate}`);
    expect(brief(text)).toEqual(brief(exact));
    // Where P1 is in SMM, and where it ends, the text says as well as the machine (what it did before is not in it).
    const smm = (d: typeof exact): number[] => d.steps.flatMap((s, i) => (s.states.P1 === 'smm' ? [i] : []));
    expect(smm(text)).toEqual(smm(exact));
    expect(text.steps[text.steps.length - 1].states).toEqual(exact.steps[exact.steps.length - 1].states);
  });

  it('a vCPU test has a hypervisor lane, and the run shows the vCPUs descheduled when they block', () => {
    const { trace: t } = shortestRun(read('avic-blocked-target-woken'), 'spec', (a) => a.outcomes.find((o) => o.values['P1.running'] === '1')!);
    const d = classify(t);
    expect(d.lanes.map((l) => l.id)).toEqual(['P0', 'P1', 'hypervisor']);
    expect(d.messages.some((m) => m.from === 'P0' && m.to === 'P1' && /IRR 0x80/.test(m.label))).toBe(true);
    expect(d.messages.some((m) => m.from === 'hypervisor' && m.to === 'P1' && m.label === 'wake')).toBe(true);
    const blocked = d.steps.findIndex((s) => s.effects.some((e) => e === 'P1 vcpu blocked: IsRunning = 0'));
    expect(d.steps[blocked].states.P1).toBe('descheduled');
    expect(d.steps[blocked].marks.some((m) => m.lane === 'hypervisor')).toBe(true);
  });

  it('an I/O APIC test: the device agent\'s interrupt, the re-sent one after EOI from the platform, a state for every lane at every step', () => {
    const { trace: t } = shortestRun(read('ioapic-level-retrigger'), 'spec', (a) => a.outcomes[0]);
    const d = classify(t);
    expect(d.lanes.map((l) => l.id)).toEqual(['P0', 'P1', 'D0', 'platform']);
    const to1 = d.messages.filter((m) => m.to === 'P1' && m.label === 'IPI 0x39');
    expect(to1.map((m) => m.from)).toEqual(['D0', 'platform']);
    expect(to1.every((m) => m.fate === 'accepted')).toBe(true);
    const eoi = d.steps.findIndex((s) => s.text === 'P1 eoi');
    expect(to1[1].sentAt).toBe(eoi);
    for (const s of [d.initial, ...d.steps.map((x) => x.states)]) expect(Object.keys(s).sort()).toEqual(['D0', 'P0', 'P1', 'platform']);
  });

  it('seed 004 under spec and kvm-2019: the kvm-2019 run replayed under spec parts where the held bit differs', () => {
    const text = read('seed-004-stale-irr-after-soft-disable');
    const a = run(T(text), P('kvm-2019'));
    expect(a.outcomes.map((o) => o.values['P0.irr(0xec)'])).toEqual(['1']);
    const steps = witness(T(text), P('kvm-2019'), a.outcomes[0].key, a.outcomes[0].witness, 1000);
    const kvm = replay(T(text), P('kvm-2019'), steps), spec = replay(T(text), P('spec'), steps);
    const at = partingStep(kvm, spec);
    expect(at).not.toBeNull();
    // Up to there the two did the same; from there the spec run takes the held interrupt (as the spurious vector).
    expect(spec.steps.slice(0, at!).map((s) => s.text)).toEqual(kvm.steps.slice(0, at!).map((s) => s.text));
    expect(spec.steps.some((s) => s.text === 'P0 takes interrupt')).toBe(true);
    expect(kvm.steps.some((s) => s.text === 'P0 takes interrupt')).toBe(false);
    expect(partingStep(kvm, kvm)).toBeNull();
  });

  it('over the catalog: messages between lanes, a state for every lane, nothing in flight at the end; text traces agree', () => {
    let compared = 0;
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus'))) {
      const text = readFileSync(`litmus/${f}`, 'utf8');
      const a = run(T(text), P('spec'), { maxStates: 20_000 });
      const o = a.outcomes[0];
      if (!o) continue;
      const t = replay(T(text), P('spec'), witness(T(text), P('spec'), o.key, o.witness, Math.min(a.states * 2, 40_000)));
      const d = classify(t);
      const lanes = new Set(d.lanes.map((l) => l.id));
      for (const m of d.messages) expect(lanes.has(m.from) && lanes.has(m.to), `${f}: ${m.from} -> ${m.to}`).toBe(true);
      // A final state has no enabled step, so every message has arrived.
      expect(d.messages.filter((m) => m.arrivedAt === null), f).toEqual([]);
      for (const st of d.steps) expect(Object.keys(st.states).sort(), f).toEqual([...lanes].sort());
      // A trace file's text names every bus message and signal; what a vCPU's posted interrupts reach it does not.
      if (t.vcpus) continue;
      const brief = (x: typeof d): string[] => x.messages.map((m) => `${m.from}>${m.to} ${m.label} ${m.sentAt}-${m.arrivedAt}`).sort();
      expect(brief(classify(textOnly(t))), f).toEqual(brief(d));
      compared++;
    }
    expect(compared).toBeGreaterThan(80);
  });
});
