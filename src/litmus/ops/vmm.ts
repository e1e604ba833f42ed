// A VMM's host-side ops on a vCPU (extension, decision D-36): `vmm save Pk` (KVM_GET_LAPIC and the IA32_APIC_BASE
// MSR), `vmm restore Pk lapic` (KVM_SET_LAPIC), `vmm restore Pk apic-base` (the MSR, host-initiated), and
// `vmm set Pk nmi-pending|smi-pending|nmi-masked = 0|1` (KVM_SET_VCPU_EVENTS). They are agent ops, so the order of
// the restores and the races with the guest's IPIs are the explorer's to enumerate.

import type { VmmEvent, VmmPart } from '../ast.js';
import { describe as describeToken } from '../lexer.js';
import { oneOf } from '../names.js';
import { cpuRef } from '../syntax.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';
import type { AnalyzeCtx, OpFamily } from './types.js';

const PARTS: readonly VmmPart[] = ['lapic', 'apic-base'];
const EVENTS: readonly VmmEvent[] = ['nmi-pending', 'smi-pending', 'nmi-masked'];
const HOST = 'a VMM\'s host-side operation (an ioctl of its hypervisor): a guest cannot do it to itself';
const refuseHost = (_op: unknown, a: AnalyzeCtx): never => a.refuse('host-vmm', HOST);

export const vmm: OpFamily<'vmm-save' | 'vmm-restore' | 'vmm-event'> = {
  parse: {
    vmm(p: Cursor, t: Token) {
      p.next();
      const sub = p.expectName('`save`, `restore` or `set` after `vmm`');
      if (sub.text !== 'save' && sub.text !== 'restore' && sub.text !== 'set') p.fail(sub.pos, `expected \`save\`, \`restore\` or \`set\` after \`vmm\`, found ${describeToken(sub)}`);
      const cpu = cpuRef(p, `a CPU (\`Pk\`) after \`vmm ${sub.text}\``);
      if (sub.text === 'save') return { kind: 'vmm-save', cpu, pos: t.pos };
      const w = p.expectName(sub.text === 'restore' ? `${oneOf(PARTS)} after \`vmm restore P${cpu}\`` : `${oneOf(EVENTS)} after \`vmm set P${cpu}\``);
      if (sub.text === 'restore') {
        const part = PARTS.find((x) => x === w.text);
        if (part === undefined) p.fail(w.pos, `expected ${oneOf(PARTS)} after \`vmm restore P${cpu}\`, found ${describeToken(w)}`);
        return { kind: 'vmm-restore', cpu, part, pos: t.pos };
      }
      const event = EVENTS.find((x) => x === w.text);
      if (event === undefined) p.fail(w.pos, `expected ${oneOf(EVENTS)} after \`vmm set P${cpu}\`, found ${describeToken(w)}`);
      p.expect('=', `after \`vmm set P${cpu} ${event}\``);
      const v = p.expectNum('`0` or `1`');
      return { kind: 'vmm-event', cpu, event, value: p.small(v, 1, `\`${event}\``) === 1 ? 1 : 0, pos: t.pos };
    },
  },
  defs: {
    'vmm-save': {
      where: 'agent',
      word: () => 'vmm save',
      print: (op) => `vmm save P${op.cpu}`,
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `vmm save P${op.cpu}`,
      exec(op, x) {
        x.vmmSave(op.cpu);
        return x.pc + 1;
      },
      // It reads the vCPU's APIC and writes the VMM's copy, which only vmm ops on that vCPU read.
      footprint: (op, f) => f.writeCpu(op.cpu),
      analyze: refuseHost,
      emit: (_op, e) => e.refuse('host-vmm', HOST),
    },
    'vmm-restore': {
      where: 'agent',
      word: () => 'vmm restore',
      print: (op) => `vmm restore P${op.cpu} ${op.part}`,
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `vmm restore P${op.cpu} ${op.part}`,
      exec(op, x) {
        x.vmmRestore(op.cpu, op.part);
        return x.pc + 1;
      },
      footprint(op, f) {
        f.writeCpu(op.cpu);
        f.writeCpuConfig(op.cpu);
      },
      analyze: refuseHost,
      emit: (_op, e) => e.refuse('host-vmm', HOST),
    },
    'vmm-event': {
      where: 'agent',
      word: () => 'vmm set',
      print: (op) => `vmm set P${op.cpu} ${op.event} = ${op.value}`,
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `vmm set P${op.cpu} ${op.event} = ${op.value}`,
      exec(op, x) {
        x.vmmEvent(op.cpu, op.event, op.value === 1);
        return x.pc + 1;
      },
      footprint: (op, f) => f.writeCpu(op.cpu),
      analyze: refuseHost,
      emit: (_op, e) => e.refuse('host-vmm', HOST),
    },
  },
};
