// Traces: the typed records of --trace-json against schemas/trace.schema.json over the catalog, what the records say
// about known runs (source positions, changed registers, the vCPU's scheduling), and the text trace's layout.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { validate, type Schema } from '../../src/cli/schema.js';
import { runLitmus } from '../../src/explore/run.js';
import type { TraceRecord } from '../../src/explore/trace.js';
import { lapis, jsonOut } from '../helpers/lapis.js';

const SCHEMA = JSON.parse(readFileSync('schemas/trace.schema.json', 'utf8')) as Schema;
const read = (name: string): string => readFileSync(`litmus/${name}.litmus`, 'utf8');
const AVIC = 'avic-preempted-target-once';

function schemaErrors(traces: unknown[]): string[] {
  return traces.flatMap((t, i) => validate(t, SCHEMA).map((e) => `traces/${i}${e.path}: ${e.message}`));
}

describe('--trace-json records', () => {
  it('every catalog test\'s traces follow schemas/trace.schema.json, under spec and, where it answers otherwise, kvm-2019', () => {
    const expected = JSON.parse(readFileSync('litmus/expected.json', 'utf8')) as Record<string, Record<string, string>>;
    let traced = 0;
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus'))) {
      const text = readFileSync(`litmus/${f}`, 'utf8');
      const e = expected[f] ?? {};
      for (const profile of e['kvm-2019'] && e['kvm-2019'] !== e.spec ? ['spec', 'kvm-2019'] : ['spec']) {
        // The shortest runs are searched breadth-first within twice the states explored: a bound keeps that short.
        const a = runLitmus(text, { profile, trace: true, maxStates: 5_000, file: f });
        if (a.result === 'Unsupported') continue;
        expect(a.traces!.length, f).toBe(a.outcomes.length + (a.nonTerminating ? 1 : 0));
        expect(schemaErrors(a.traces!), `${f} under ${profile}`).toEqual([]);
        for (const t of a.traces!) expect(t.steps.map((s) => s.index), f).toEqual(t.steps.map((_, i) => i + 1));
        traced++;
      }
    }
    expect(traced).toBeGreaterThan(160);
  });

  it('the CLI prints the same records, alone (an array) and in the --json answer', () => {
    const alone = JSON.parse(lapis('run', `litmus/${AVIC}.litmus`, '--trace-json').out.split('\n').filter((l) => l.startsWith('[')).join('')) as TraceRecord[];
    const answer = jsonOut(lapis('run', `litmus/${AVIC}.litmus`, '--json', '--trace-json')) as { traces: TraceRecord[] };
    expect(schemaErrors(alone)).toEqual([]);
    expect(alone.map((t) => t.steps.map((s) => s.text))).toEqual(answer.traces.map((t) => t.steps.map((s) => s.text)));
    expect(schemaErrors([{ ...alone[0], schema: 'lapis-trace/0' }])).toEqual(['traces/0/schema: must be "lapis-trace/1", not "lapis-trace/0"']);
  });

  it('an op names its source line:col; an event, the vector it took; a delivery, its message', () => {
    const text = read('seed-000-sipi-during-smm');
    const [t] = runLitmus(text, { trace: true }).traces!;
    const lines = text.split('\n');
    for (const s of t.steps.filter((x) => x.kind === 'op' && !x.op!.implicit)) {
      const { line, col } = s.op!.source!;
      expect(lines[line - 1].slice(col - 1).trim(), s.text).toBe(s.op!.text);
    }
    const smi = t.steps.find((s) => s.kind === 'event' && s.event?.name === 'smi')!;
    expect(smi).toMatchObject({ lane: 'P1', cpu: 1, changed: { P1: { smm: { from: false, to: true }, latched: { cleared: ['smi'] } } } });
    const arrival = t.steps.find((s) => s.kind === 'delivery')!;
    expect(arrival).toMatchObject({ lane: 'bus', cpu: 1, message: { source: 0, target: 1, mode: 'init' } });
    const send = t.steps.find((s) => s.text === 'P0 send init -> P1')!;
    expect(send.sent).toEqual([arrival.message]);
    const avic = runLitmus(read(AVIC), { trace: true }).traces![0];
    const taken = avic.steps.find((s) => s.kind === 'event')!;
    expect(taken).toMatchObject({ vcpu: true, event: { name: 'interrupt', vector: 0x80 }, changed: { P1: { isr: { set: [0x80] }, irr: { cleared: [0x80] }, ppr: { from: 0, to: 0x80 } } } });
  });

  it('a VM exit at an interrupt window is an event, not the op it comes before', () => {
    const text = 'lapis T\ninit {\n  P0.vmx = non-root\n}\nP0 {\n  cli\n  store go = 1\n  await entered == 1\n  sti\n  nop\n  store after = 1\n}\n'
      + 'P0 on vmexit init {\n  store entered = 1\n  vmentry intr-window\n}\nP0 on vmexit intr-window {\n  load r1 = after\n  vmentry\n}\n'
      + 'D0 {\n  await go == 1\n  init -> P0\n}\nforall (P0.vmexits(intr-window) = 1 /\\ P0:r1 = 0)\n';
    const [t] = runLitmus(text, { trace: true }).traces!;
    const exit = t.steps.find((s) => s.text === 'P0 VM exit (intr-window)')!;
    expect(exit).toMatchObject({ kind: 'event', event: { name: 'vmexit-intr-window' } });
    expect(exit.op).toBeUndefined();
    expect(schemaErrors([t])).toEqual([]);
  });

  it('never drops the vCPU: preempt, resume and post say what they did to it', () => {
    const [t] = runLitmus(read(AVIC), { trace: true }).traces!;
    const preempt = t.steps.find((s) => s.text === 'D0 preempt P1')!;
    expect(preempt).toMatchObject({ kind: 'op', lane: 'D0', agent: 0, op: { text: 'preempt P1' }, changed: { P1: { running: { from: true, to: false } } } });
    expect(preempt.effects).toEqual(['P1 vcpu preempted: IsRunning = 0']);
    const resume = t.steps.find((s) => s.text === 'D0 resume P1')!;
    expect(resume.changed.P1.running).toEqual({ from: false, to: true });
    expect(t.steps.some((s) => s.kind === 'hypervisor' && s.lane === 'hypervisor' && s.cpu === 0)).toBe(true);
    const post = runLitmus(read('apicv-resume-clears-sn-first'), { trace: true }).traces![0].steps.find((s) => /^D\d+ post /.test(s.text))!;
    expect(post.changed.P1.pir).toEqual({ set: [0x40] });
    expect(post.effects.join('\n')).toMatch(/^P1 posted 0x40: PIR set, /);
  });

  it('labels the runs: a failing forall gives its counterexample first', () => {
    const a = runLitmus(read('init-keeps-latched-smi'), { profile: 'qemu-tcg-7.2', trace: true });
    expect(a.result).toBe('No');
    expect(a.traces!.map((t) => [t.role, t.satisfies])).toEqual([['counterexample', false], ['witness', true]]);
    const ok = runLitmus(read('seed-000-sipi-during-smm'), { trace: true });
    expect(ok.traces!.map((t) => [t.role, t.satisfies])).toEqual([['witness', true], ['run', false]]);
  });
});

describe('--trace text', () => {
  it('titles each run, counterexample first, with a column per CPU and agent and each op\'s line:col', () => {
    const r = lapis('run', 'litmus/init-keeps-latched-smi.litmus', '--profile', 'qemu-tcg-7.2', '--trace');
    const lines = r.out.split('\n');
    const titles = lines.filter((l) => /^(Counterexample to|Witness of|Run to|A run into)/.test(l));
    expect(titles[0]).toMatch(/^Counterexample to forall \(.*\): outcome P1\.count\(smi\)=0; .* does not satisfy the condition \(\d+ steps\):$/);
    expect(titles[1]).toMatch(/^Witness of outcome P1\.count\(smi\)=1; /);
    const head = lines[lines.indexOf(titles[0]) + 1];
    expect(head.trim().split(/ +/)).toEqual(['step', 'time', 'P0', 'P1', 'D0']);
    const col = (name: string): number => head.indexOf(` ${name}`) + 1;
    const smi = lines.find((l) => l.includes('smi -> P1'))!;
    // The agent's op in D0's column with its source position; the SMI it latched in P1's column, on the same row.
    expect(smi.indexOf('17:3 smi -> P1')).toBe(col('D0'));
    expect(smi.indexOf('[latched +smi]')).toBe(col('P1'));
  });

  it('a vCPU test has a hypervisor column, and the preempted vCPU\'s column shows IsRunning clear', () => {
    const r = lapis('run', `litmus/${AVIC}.litmus`, '--trace');
    const lines = r.out.split('\n');
    const head = lines.find((l) => /^ +step +time/.test(l))!;
    expect(head.trim().split(/ +/)).toEqual(['step', 'time', 'P0', 'P1', 'D0', 'hypervisor']);
    const row = lines.findIndex((l) => l.includes('preempt P1'));
    expect(lines[row].indexOf('29:3 preempt P1')).toBe(head.indexOf(' D0') + 1);
    expect(lines.slice(row, row + 2).join('\n')).toMatch(/vcpu preempted: IsRunning = 0[^\n]*\n *\[IsRunning 1->0\]/);
    expect(lines.some((l) => l.slice(head.indexOf(' hypervisor') + 1).startsWith('P0 avic: IPI completes'))).toBe(true);
  });
});
