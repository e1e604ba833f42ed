// An L1 hypervisor's VMX instructions (extension): `vmxon`, `vmxoff` (SDM Vol 3C 24.8 Restrictions on VMX
// Operation: INIT is blocked in VMX root operation and released by VMXOFF) and `vmentry` from a VM-exit handler
// (VMRESUME, optionally into the wait-for-SIPI or HLT guest activity state: SDM Vol 3C 27.6.2 Activity State), with
// the interrupt-window and NMI-window exiting controls (SDM Vol 3C 26.2) and a requested virtual interrupt (RVI,
// SDM Vol 3C 30.2.1 Evaluation of Pending Virtual Interrupts) as v2 extensions.

import { VmxMode } from '../../arch/cpu.js';
import type { VmentryMode } from '../ast.js';
import { hex } from '../format.js';
import { describe as describeToken } from '../lexer.js';
import { vectorNum } from '../syntax.js';
import type { EmitCtx, OpFamily, OpOf } from './types.js';

/** The guest runs VMX operation through its own L1 hypervisor (guest/nested.asm); the compiler's nested plan
 *  (src/backends/nested.ts) decides whether a backend can. */
const l1Call = (routine: string, comment = '') => (_op: unknown, e: EmitCtx): void => void e.out.push(`  mov eax, ${e.apicId}`, `  call ${routine}${comment}`);

export const vmx: OpFamily<'vmxon' | 'vmxoff' | 'vmentry'> = {
  parse: {
    vmxon: (p, t) => (p.next(), { kind: 'vmxon', pos: t.pos }),
    vmxoff: (p, t) => (p.next(), { kind: 'vmxoff', pos: t.pos }),
    vmentry(p, t) {
      p.next();
      let mode: VmentryMode = 'resume';
      if (p.accept('sipi')) mode = 'sipi';
      else if (p.accept('activity')) {
        p.expect('=', 'after `vmentry activity`');
        const a = p.expectName('`wait-for-sipi` or `hlt` after `vmentry activity =`');
        if (a.text !== 'wait-for-sipi' && a.text !== 'hlt') p.fail(a.pos, `a VM entry can enter the guest in \`wait-for-sipi\` or \`hlt\`; found ${describeToken(a)}`);
        mode = a.text === 'hlt' ? 'hlt' : 'wait-for-sipi';
      }
      const op: OpOf<'vmentry'> = { kind: 'vmentry', mode, intrWindow: false, nmiWindow: false, rvi: null, pos: t.pos };
      for (;;) {
        if (p.accept('intr-window')) op.intrWindow = true;
        else if (p.accept('nmi-window')) op.nmiWindow = true;
        else if (p.accept('rvi')) {
          p.expect('=', 'after `rvi` (`rvi = V`: the virtual interrupt requested at entry)');
          op.rvi = vectorNum(p, p.expectNum('a vector after `rvi =`'));
        } else return op;
      }
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
      print: entryText,
      refs: () => {},
      describe: entryText,
      exec: (op, x) => x.vmEntry(op.mode, op),
      footprint: () => {},
      analyze(op, a) {
        // The guest's L1 (guest/nested.asm) enters with the activity states active and wait-for-SIPI, no window
        // controls and no RVI.
        if (op.mode === 'hlt' || op.intrWindow || op.nmiWindow || op.rvi !== null) {
          a.refuse('nested-vmx', `\`${entryText(op)}\`: the guest's L1 hypervisor enters only in the active or wait-for-SIPI state, without window-exiting controls or RVI`);
        }
      },
      emit(op, e) {
        if (op.mode === 'hlt') return e.refuse('nested-vmx', 'a VM entry in the HLT activity state');
        const mode = { resume: 0, 'wait-for-sipi': 1, sipi: 2 }[op.mode];
        e.out.push(`  mov eax, ${e.apicId}`, `  mov ebx, ${mode}`, '  call lit_vmentry                    ; returns only when the VM entry fails (a fault)');
      },
    },
  },
};

function entryText(op: OpOf<'vmentry'>): string {
  const head = op.mode === 'resume' ? 'vmentry' : op.mode === 'sipi' ? 'vmentry sipi' : `vmentry activity = ${op.mode}`;
  return `${head}${op.intrWindow ? ' intr-window' : ''}${op.nmiWindow ? ' nmi-window' : ''}${op.rvi === null ? '' : ` rvi = ${hex(op.rvi)}`}`;
}
