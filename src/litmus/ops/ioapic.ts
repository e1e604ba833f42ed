// `ioapic write REG = E`: a CPU programs the I/O APIC through IOREGSEL/IOWIN (82093AA 3.1, 3.2).

import { IOAPIC_PINS, IoApicReg } from '../../arch/ioapic.js';
import { printExpr } from '../format.js';
import { expr, ioapicReg } from '../syntax.js';
import { asmHex } from './asm.js';
import type { OpFamily } from './types.js';

export const ioapic: OpFamily<'ioapic-write'> = {
  parse: {
    ioapic(p, t) {
      p.next();
      p.expect('write', 'after `ioapic` (`ioapic write REG = E`)');
      const reg = ioapicReg(p);
      p.expect('=', 'after `ioapic write REG`');
      return { kind: 'ioapic-write', reg, value: expr(p), pos: t.pos };
    },
  },
  defs: {
    'ioapic-write': {
      where: 'cpu',
      word: () => 'ioapic write',
      print: (op) => `ioapic write ${op.reg.name ?? `0x${op.reg.index.toString(16).padStart(2, '0')}`} = ${printExpr(op.value)}`,
      validate(op, v) {
        if (!v.settings.ioapic) v.error(op.pos, '`ioapic write` needs the I/O APIC, but the test has `ioapic = false`');
      },
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `ioapic write ${op.reg.name ?? op.reg.index}`,
      exec(op, x) {
        x.machine.ioapic?.writeRegister(op.reg.index, Number(x.eval(op.value) & 0xffffffffn));
        return x.pc + 1;
      },
      // A redirection entry write may deliver at once (an unmasked level with Remote IRR clear).
      footprint(_op, f) {
        f.writeIoapic();
        if (f.future) f.writeAllCpus();
      },
      analyze(op, a) {
        const i = op.reg.index;
        if (i < IoApicReg.REDTBL_BASE || i >= IoApicReg.REDTBL_BASE + 2 * IOAPIC_PINS) {
          a.refuse('ioapic-msi', 'only the redirection table (REDTBLn_LO/HI) is compiled: the ID and arbitration registers are shared by every run');
        }
        if ((i & 1) === 1 && op.value.kind === 'num') {
          const id = Number((op.value.value >> 24n) & 0xffn);
          if (id >= a.settings.cpus) a.refuse('spare-cpu', `destination ${asmHex(id)} may reach the spare CPUs that run the coordinator`);
        } else if ((i & 1) === 1) {
          a.refuse('spare-cpu', 'a computed destination may reach the spare CPUs that run the coordinator');
        }
        a.ioapicPin((i - IoApicReg.REDTBL_BASE) >> 1);
      },
      emit(op, e) {
        e.expr(op.value);
        e.out.push('  mov edx, eax', `  mov eax, ${asmHex(op.reg.index)}`, '  call lit_ioapic_write              ; IOREGSEL, then IOWIN (under the I/O APIC lock)', '  LIT_EVENT');
      },
    },
  },
};
