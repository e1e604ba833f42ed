// The local APIC as the CPU's own program reaches it: xAPIC MMIO (`apic write/read`), MSRs (`wrmsr`/`rdmsr`:
// IA32_APIC_BASE, IA32_TSC_DEADLINE, the x2APIC MSRs of SDM Vol 3A 11.12.1.2) and `eoi`. In a vCPU test the
// simulator routes these through the hardware-assist layer (AVIC, APICv, TPR shadow).

import { MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, Reg, X2APIC_MSR_BASE, X2APIC_MSR_LAST } from '../../arch/apic.js';
import { apicRegText, hex, printExpr } from '../format.js';
import { apicReg, dstReg, expr, msrRef } from '../syntax.js';
import type { MsrRef } from '../ast.js';
import { describe } from '../lexer.js';
import { asmHex } from './asm.js';
import type { OpFamily } from './types.js';

const msrText = (m: MsrRef): string => m.name ?? hex(m.index);
const isX2apicMsr = (i: number): boolean => i >= X2APIC_MSR_BASE && i <= X2APIC_MSR_LAST;
/** The x2APIC timer initial count (SDM Vol 3A Table 11-6: MSR 0x838). */
const X2APIC_TIMER_ICR = X2APIC_MSR_BASE + (Reg.TIMER_ICR >> 4);

export const apic: OpFamily<'apic-write' | 'apic-read' | 'eoi' | 'wrmsr' | 'rdmsr'> = {
  parse: {
    apic(p, t) {
      p.next();
      const sub = p.expectName('`write` or `read` after `apic`');
      if (sub.text === 'write') {
        const reg = apicReg(p);
        p.expect('=', 'after `apic write REG`');
        return { kind: 'apic-write', reg, value: expr(p), pos: t.pos };
      }
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`apic read ${dst}\``);
        return { kind: 'apic-read', dst, reg: apicReg(p), pos: t.pos };
      }
      return p.fail(sub.pos, `expected \`write\` or \`read\` after \`apic\`, found ${describe(sub)}`);
    },
    wrmsr(p, t) {
      p.next();
      const msr = msrRef(p);
      p.expect('=', 'after `wrmsr M`');
      return { kind: 'wrmsr', msr, value: expr(p), pos: t.pos };
    },
    rdmsr(p, t) {
      p.next();
      const dst = dstReg(p);
      p.expect('=', `after \`rdmsr ${dst}\``);
      return { kind: 'rdmsr', dst, msr: msrRef(p), pos: t.pos };
    },
    eoi: (p, t) => (p.next(), { kind: 'eoi', pos: t.pos }),
  },
  defs: {
    'apic-write': {
      where: 'cpu',
      word: () => 'apic write',
      print: (op) => `apic write ${apicRegText(op.reg)} = ${printExpr(op.value)}`,
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `apic write ${apicRegText(op.reg)}`,
      exec(op, x) {
        x.apicWrite(op.reg.offset, Number(x.eval(op.value) & 0xffffffffn));
        return x.pc + 1;
      },
      footprint: (_op, f) => f.writeOwnConfig(),
      analyze(op, a) {
        if (op.reg.offset === Reg.TIMER_ICR) a.armsTimer();
        // Where the ID is writable (QEMU, KVM; SDM Vol 3A 11.4.6: model-specific) the CPU leaves its initial APIC
        // ID, by which the runtime's end-of-test ping and wait-for-SIPI probe address it.
        if (op.reg.offset === Reg.ID) a.refuse('other', 'the test writes its xAPIC ID: the runtime reaches each CPU at the end of a run (its ping, its probe SIPI) by its initial APIC ID');
      },
      emit(op, e) {
        e.expr(op.value);
        if (e.timer && op.reg.offset === Reg.TIMER_ICR) {
          const ok = e.local();
          e.out.push('  mul dword [lit_timer_k]              ; model ticks -> timer ticks (one model tick: LIT_TIMER_WAIT_US)', '  test edx, edx', `  jz ${ok}`, '  mov eax, 0xFFFFFFFF', `${ok}:`);
        }
        e.out.push(`  mov [APIC_BASE + ${asmHex(op.reg.offset)}], eax   ; xAPIC MMIO`);
      },
    },
    'apic-read': {
      where: 'cpu',
      word: () => 'apic read',
      print: (op) => `apic read ${op.dst} = ${apicRegText(op.reg)}`,
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `apic read ${op.dst} = ${apicRegText(op.reg)}`,
      exec(op, x) {
        const v = x.apicRead(op.reg.offset);
        x.setReg(op.dst, BigInt(v));
        x.trace(`apic read ${apicRegText(op.reg)} = 0x${v.toString(16)}`);
        return x.pc + 1;
      },
      // An ICR read observes the delivery status that arrivals end (por.ts, channelFootprint).
      footprint: (_op, f) => f.readOwnStatus(),
      emit(op, e) {
        e.out.push(`  mov eax, [APIC_BASE + ${asmHex(op.reg.offset)}]   ; xAPIC MMIO`, '  xor edx, edx');
        // TIMER_CCR counts, and TIMER_ICR holds what its write multiplied: both back to model ticks.
        if (e.timer && (op.reg.offset === Reg.TIMER_CCR || op.reg.offset === Reg.TIMER_ICR)) {
          const ok = e.local();
          e.out.push('  div dword [lit_timer_k]              ; timer ticks -> model ticks, rounded up', '  test edx, edx', `  jz ${ok}`, '  inc eax', `${ok}:`, '  xor edx, edx');
        }
        e.setReg(op.dst);
      },
    },
    eoi: {
      where: 'cpu',
      print: () => 'eoi',
      refs: () => {},
      describe: () => 'eoi',
      exec(_op, x) {
        x.eoi();
        return x.pc + 1;
      },
      // An EOI may be broadcast to the I/O APIC, which may then deliver again (Remote IRR, a level still asserted).
      footprint(_op, f) {
        f.writeIoapic();
        if (f.future) f.writeAllCpus();
      },
      emit: (_op, e) => void e.out.push('  APIC_WR APIC_EOI, 0                 ; MMIO, or the EOI MSR in x2APIC mode'),
    },
    wrmsr: {
      where: 'cpu',
      print: (op) => `wrmsr ${msrText(op.msr)} = ${printExpr(op.value)}`,
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `wrmsr ${msrText(op.msr)}`,
      exec(op, x) {
        if (!x.wrmsr(op.msr.index, x.eval(op.value))) x.fault(`wrmsr 0x${op.msr.index.toString(16)}`);
        return x.pc + 1;
      },
      footprint: (_op, f) => f.writeOwnConfig(),
      analyze(op, a) {
        const i = op.msr.index;
        // An absolute TSC value: the model's TSC starts with the run, the machine's at reset; the guest adds the run's
        // start (lit_deadline_tsc), and timer-plan.ts checks the deadline like a TIMER_ICR count.
        if (i === MSR_IA32_TSC_DEADLINE) a.armsTimer();
        if (i === X2APIC_TIMER_ICR) a.refuse('apic-timer', 'the x2APIC timer initial count (MSR 0x838) is not rescaled to model ticks (only the xAPIC TIMER_ICR write is)');
        // x2APIC use: its MSRs, or an IA32_APIC_BASE write that may set EXTD (bit 10).
        if (isX2apicMsr(i)) a.need('x2apic');
        if (i === MSR_IA32_APIC_BASE && (op.value.kind !== 'num' || (op.value.value & 0x400n) !== 0n)) a.need('x2apic');
      },
      emit(op, e) {
        const after = e.local();
        e.expr(op.value);
        if (op.msr.index === MSR_IA32_TSC_DEADLINE) e.out.push(`  mov ebx, ${e.waitUsPerTick}`, '  call lit_deadline_tsc              ; model ticks -> the machine\'s TSC (0 disarms)');
        e.out.push(
          `  mov ecx, ${asmHex(op.msr.index)}`,
          `  mov dword [PC_FIXUP + ${e.apicId} * 4], ${after}   ; a #GP counts in P${e.apicId}.faults and skips the op`,
          '  wrmsr',
          `  mov dword [PC_FIXUP + ${e.apicId} * 4], 0`,
          `${after}:`,
        );
        if (op.msr.index === MSR_IA32_APIC_BASE) e.out.push('  call lit_sync_mode                ; the APIC mode the runtime\'s helpers use');
      },
    },
    rdmsr: {
      where: 'cpu',
      print: (op) => `rdmsr ${op.dst} = ${msrText(op.msr)}`,
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `rdmsr ${op.dst} = ${msrText(op.msr)}`,
      exec(op, x) {
        const v = x.rdmsr(op.msr.index);
        if (v === null) x.fault(`rdmsr 0x${op.msr.index.toString(16)}`);
        else x.setReg(op.dst, v);
        return x.pc + 1;
      },
      footprint: (_op, f) => f.writeOwnConfig(),
      analyze(op, a) {
        if (isX2apicMsr(op.msr.index)) a.need('x2apic');
      },
      emit(op, e) {
        const after = e.local();
        e.out.push(
          `  mov ecx, ${asmHex(op.msr.index)}`,
          `  mov dword [PC_FIXUP + ${e.apicId} * 4], ${after}   ; a #GP counts in P${e.apicId}.faults and skips the op`,
          '  rdmsr',
          `  mov dword [PC_FIXUP + ${e.apicId} * 4], 0`,
        );
        if (op.msr.index === MSR_IA32_TSC_DEADLINE) e.out.push(`  mov ebx, ${e.waitUsPerTick}`, '  call lit_tsc_deadline              ; the machine\'s TSC -> model ticks (0: disarmed)');
        e.setReg(op.dst);
        e.out.push(`${after}:`);
      },
    },
  },
};
