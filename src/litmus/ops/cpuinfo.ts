// What a CPU reads about itself (extension): `rdtsc rK` (the time-stamp counter: the model's clock, in TSC ticks)
// and `cpuid rK = LEAF[.SUBLEAF].REG` (the fields the interrupt architecture owns: CPUID_FIELDS in src/arch/cpu.ts).

import { CPUID_FIELDS, CPUID_REGS, type CpuidRegName } from '../../arch/cpu.js';
import { hex } from '../format.js';
import { describe } from '../lexer.js';
import { oneOf } from '../names.js';
import { dstReg } from '../syntax.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';
import { asmHex } from './asm.js';
import type { OpFamily, OpOf } from './types.js';
import { cpuid } from '../../machine/platform.js';

const leafText = (op: OpOf<'cpuid'>): string => `${hex(op.leaf)}${op.subleaf === null ? '' : `.${op.subleaf}`}.${op.reg}`;
const LEAVES = Object.keys(CPUID_FIELDS).map((k) => hex(Number(k)));

export const cpuinfo: OpFamily<'rdtsc' | 'cpuid'> = {
  parse: {
    rdtsc(p, t) {
      p.next();
      return { kind: 'rdtsc', dst: dstReg(p), pos: t.pos };
    },
    cpuid(p: Cursor, t: Token) {
      p.next();
      const dst = dstReg(p);
      p.expect('=', `after \`cpuid ${dst}\` (\`cpuid rK = LEAF[.SUBLEAF].REG\`)`);
      const leaf = p.small(p.expectNum('a CPUID leaf'), 0xffffffff, 'a CPUID leaf');
      p.expect('.', 'after the CPUID leaf (`cpuid rK = 0x1.ebx`, `cpuid rK = 0xb.0.edx`)');
      let subleaf: number | null = null;
      if (p.peek().kind === 'num') {
        subleaf = p.small(p.next(), 0xffffffff, 'a CPUID sub-leaf');
        p.expect('.', 'after the CPUID sub-leaf');
      }
      const r = p.expectName('a CPUID output register (`eax`, `ebx`, `ecx`, `edx`)');
      const reg = CPUID_REGS.find((x) => x === r.text);
      if (reg === undefined) p.fail(r.pos, `expected ${oneOf(CPUID_REGS)} after the CPUID leaf, found ${describe(r)}`);
      return { kind: 'cpuid', dst, leaf, subleaf, reg, pos: t.pos };
    },
  },
  defs: {
    rdtsc: {
      where: 'cpu',
      print: (op) => `rdtsc ${op.dst}`,
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `rdtsc ${op.dst}`,
      exec(op, x) {
        // SDM Vol 2B RDTSC: the processor's time-stamp counter; the model's clock counts TSC ticks (docs/litmus.md).
        x.setReg(op.dst, BigInt(x.machine.now()));
        return x.pc + 1;
      },
      // Only time steps change the clock, and explore.ts never reduces those.
      footprint: () => {},
      emit(op, e) {
        e.out.push(`  mov ebx, ${e.waitUsPerTick}`, `  call lit_rdtsc                      ; model TSC ticks since the run began (${e.waitUsPerTick} µs a tick)`);
        e.setReg(op.dst);
      },
    },
    cpuid: {
      where: 'cpu',
      print: (op) => `cpuid ${op.dst} = ${leafText(op)}`,
      validate(op, v) {
        if (CPUID_FIELDS[op.leaf] === undefined) v.error(op.pos, `the model knows CPUID leaves ${oneOf(LEAVES)} (their interrupt fields), not ${hex(op.leaf)}`);
      },
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `cpuid ${op.dst} = ${leafText(op)}`,
      exec(op, x) {
        const out = cpuid(x.machine, x.c, op.leaf, op.subleaf ?? 0);
        x.setReg(op.dst, BigInt(out[op.reg as CpuidRegName] >>> 0));
        return x.pc + 1;
      },
      footprint: () => {},
      emit(op, e) {
        // The real CPUID, masked to the fields the model gives (every other bit reads 0 in both).
        const mask = CPUID_FIELDS[op.leaf]?.[op.reg] ?? 0;
        e.out.push(`  mov eax, ${asmHex(op.leaf)}`, `  mov ecx, ${asmHex(op.subleaf ?? 0)}`, '  cpuid', `  and ${op.reg}, ${asmHex(mask)}              ; the interrupt fields only`);
        if (op.reg !== 'eax') e.out.push(`  mov eax, ${op.reg}`);
        e.out.push('  xor edx, edx');
        e.setReg(op.dst);
      },
    },
  },
};
