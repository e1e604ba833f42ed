// An L1 hypervisor's VMX instructions (extension): `vmxon`, `vmxoff` (SDM Vol 3C 24.8 Restrictions on VMX
// Operation: INIT is blocked in VMX root operation and released by VMXOFF) and `vmentry` from a VM-exit handler
// (VMRESUME, optionally into the wait-for-SIPI guest activity state: SDM Vol 3C 27.6.2 Activity State).

import { VmxMode } from '../../arch/cpu.js';
import { describe as describeToken } from '../lexer.js';
import type { EmitCtx, OpFamily } from './types.js';

/** The guest runs VMX operation through its own L1 hypervisor (guest/nested.asm); the compiler's nested plan
 *  (src/backends/nested.ts) decides whether a backend can. */
const l1Call = (routine: string, comment = '') => (_op: unknown, e: EmitCtx): void => void e.out.push(`  mov eax, ${e.apicId}`, `  call ${routine}${comment}`);

export const vmx: OpFamily<'vmxon' | 'vmxoff' | 'vmentry'> = {
  parse: {
    vmxon: (p, t) => (p.next(), { kind: 'vmxon', pos: t.pos }),
    vmxoff: (p, t) => (p.next(), { kind: 'vmxoff', pos: t.pos }),
    vmentry(p, t) {
      p.next();
      if (p.accept('sipi')) return { kind: 'vmentry', mode: 'sipi', pos: t.pos };
      if (p.accept('activity')) {
        p.expect('=', 'after `vmentry activity`');
        const a = p.expectName('`wait-for-sipi` after `vmentry activity =`');
        if (a.text !== 'wait-for-sipi') p.fail(a.pos, `a VM entry can enter the guest in \`wait-for-sipi\`; found ${describeToken(a)}`);
        return { kind: 'vmentry', mode: 'wait-for-sipi', pos: t.pos };
      }
      return { kind: 'vmentry', mode: 'resume', pos: t.pos };
    },
  },
  defs: {
    vmxon: {
      where: 'cpu',
      print: () => 'vmxon',
      refs: () => {},
      describe: () => 'vmxon',
      exec(_op, x) {
        const cpu = x.cpu!;
        if (cpu.vmx() !== VmxMode.OFF) x.fault('vmxon in VMX operation');
        else cpu.setVmx(VmxMode.ROOT);
        return x.pc + 1;
      },
      footprint: () => {},
      emit: l1Call('lit_vmxon_op'),
    },
    vmxoff: {
      where: 'cpu',
      print: () => 'vmxoff',
      refs: () => {},
      describe: () => 'vmxoff',
      exec(_op, x) {
        // Leaving VMX operation unblocks INIT: a latched INIT is then taken.
        const cpu = x.cpu!;
        if (cpu.vmx() !== VmxMode.ROOT) x.fault('vmxoff outside VMX root operation');
        else cpu.setVmx(VmxMode.OFF);
        return x.pc + 1;
      },
      footprint: () => {},
      emit: l1Call('lit_vmxoff_op'),
    },
    vmentry: {
      where: 'cpu',
      print: (op) => (op.mode === 'resume' ? 'vmentry' : op.mode === 'sipi' ? 'vmentry sipi' : 'vmentry activity = wait-for-sipi'),
      refs: () => {},
      describe: (op) => (op.mode === 'resume' ? 'vmentry' : `vmentry ${op.mode}`),
      exec: (op, x) => x.vmEntry(op.mode),
      footprint: () => {},
      emit(op, e) {
        const mode = { resume: 0, 'wait-for-sipi': 1, sipi: 2 }[op.mode];
        e.out.push(`  mov eax, ${e.apicId}`, `  mov ebx, ${mode}`, '  call lit_vmentry                    ; returns only when the VM entry fails (a fault)');
      },
    },
  },
};
