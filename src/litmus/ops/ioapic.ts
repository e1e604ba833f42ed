// The I/O APIC's registers as a CPU reaches them: `ioapic write REG = E` and `ioapic read rK = REG` through
// IOREGSEL/IOWIN (82093AA 3.1, 3.2), and `ioapic eoi E`, a write of the EOI register of a version-0x20 I/O(x)APIC
// (ICH EOIR), with which an OS completes a level interrupt whose EOI broadcast it suppressed (SVR[12]).

import { IOAPIC_PINS, IoApicMmio, IoApicReg } from '../../arch/ioapic.js';
import { printExpr } from '../format.js';
import type { IoApicRegRef } from '../ast.js';
import { describe } from '../lexer.js';
import { dstReg, expr, ioapicReg } from '../syntax.js';
import { asmHex } from './asm.js';
import type { OpFamily, ValidateCtx } from './types.js';

const regText = (r: IoApicRegRef): string => r.name ?? `0x${r.index.toString(16).padStart(2, '0')}`;

function needsIoapic(word: string, pos: { line: number; col: number }, v: ValidateCtx): void {
  if (!v.settings.ioapic) v.error(pos, `\`${word}\` needs the I/O APIC, but the test has \`ioapic = false\``);
}

export const ioapic: OpFamily<'ioapic-write' | 'ioapic-read' | 'ioapic-eoi'> = {
  parse: {
    ioapic(p, t) {
      p.next();
      const sub = p.expectName('`write`, `read` or `eoi` after `ioapic`');
      if (sub.text === 'write') {
        const reg = ioapicReg(p);
        p.expect('=', 'after `ioapic write REG`');
        return { kind: 'ioapic-write', reg, value: expr(p), pos: t.pos };
      }
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`ioapic read ${dst}\``);
        return { kind: 'ioapic-read', dst, reg: ioapicReg(p), pos: t.pos };
      }
      if (sub.text === 'eoi') return { kind: 'ioapic-eoi', value: expr(p), pos: t.pos };
      return p.fail(sub.pos, `expected \`write\`, \`read\` or \`eoi\` after \`ioapic\`, found ${describe(sub)}`);
    },
  },
  defs: {
    'ioapic-write': {
      where: 'cpu',
      word: () => 'ioapic write',
      print: (op) => `ioapic write ${regText(op.reg)} = ${printExpr(op.value)}`,
      validate: (op, v) => needsIoapic('ioapic write', op.pos, v),
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
        a.need('ioapic');
        // ID (restored after each run: guest/ioapic.asm), VER and ARB (read-only); reserved indices do nothing.
        if (i < IoApicReg.REDTBL_BASE || i >= IoApicReg.REDTBL_BASE + 2 * IOAPIC_PINS) return;
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
    'ioapic-read': {
      where: 'cpu',
      word: () => 'ioapic read',
      print: (op) => `ioapic read ${op.dst} = ${regText(op.reg)}`,
      validate: (op, v) => needsIoapic('ioapic read', op.pos, v),
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `ioapic read ${op.dst} = ${op.reg.name ?? op.reg.index}`,
      exec(op, x) {
        x.setReg(op.dst, BigInt(x.machine.ioapic?.readRegister(op.reg.index) ?? 0));
        return x.pc + 1;
      },
      footprint: (_op, f) => f.readIoapic(),
      analyze(op, a) {
        a.need('ioapic');
        const i = op.reg.index;
        if (i === IoApicReg.VER) a.need('ioapicVersion');
        if (i >= IoApicReg.REDTBL_BASE && i < IoApicReg.REDTBL_BASE + 2 * IOAPIC_PINS) a.ioapicPin((i - IoApicReg.REDTBL_BASE) >> 1);
      },
      emit(op, e) {
        e.out.push(`  mov eax, ${asmHex(op.reg.index)}`, '  call lit_ioapic_read               ; IOREGSEL, then IOWIN (under the I/O APIC lock)', '  xor edx, edx');
        e.setReg(op.dst);
      },
    },
    'ioapic-eoi': {
      where: 'cpu',
      word: () => 'ioapic eoi',
      print: (op) => `ioapic eoi ${printExpr(op.value)}`,
      validate: (op, v) => needsIoapic('ioapic eoi', op.pos, v),
      refs: (op, r) => r.expr(op.value),
      describe: () => 'ioapic eoi',
      exec(op, x) {
        // ICH EOIR: bits 7:0 are the vector; an 82093AA (version 0x11) has no such register: the write goes nowhere.
        x.machine.ioapic?.mmioWrite(IoApicMmio.EOI, Number(x.eval(op.value) & 0xffffffffn));
        return x.pc + 1;
      },
      // Remote IRR clears; a level still asserted is sent again.
      footprint(_op, f) {
        f.writeIoapic();
        if (f.future) f.writeAllCpus();
      },
      analyze(_op, a) {
        a.need('ioapic');
        a.need('ioapicVersion');
      },
      emit(op, e) {
        e.expr(op.value);
        e.out.push('  pushfd', '  cli', '  call lit_ioapic_lock_take', '  mov [IOAPIC_EOIR], eax              ; the EOI register (version 0x20)', '  call lit_ioapic_lock_give', '  popfd', '  LIT_EVENT');
      },
    },
  },
};
