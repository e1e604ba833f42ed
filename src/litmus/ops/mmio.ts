// Raw memory-mapped accesses (extension): `mmio read rK = [ADDR]`, `mmio write [ADDR] = E`, 32 bits at a physical
// address, decoded as the platform decodes it: the CPU's own local APIC page wherever IA32_APIC_BASE puts it (SDM
// Vol 3A 11.4.1, 11.4.4), the I/O APIC's window at FEC00000H (82093AA 3.0), or nothing (all ones, D-31). So the
// relocation of the APIC base, and a globally disabled APIC that decodes nothing, can be tested.

import { IOAPIC_DEFAULT_BASE, IoApicMmio } from '../../arch/ioapic.js';
import { printExpr } from '../format.js';
import type { Cursor } from '../cursor.js';
import { dstReg, expr } from '../syntax.js';
import { asmHex } from './asm.js';
import type { AnalyzeCtx, FootprintCtx, OpFamily } from './types.js';

/** `[ADDR]`: a 4-byte aligned 32-bit physical address. */
function address(p: Cursor): number {
  p.expect('[', 'before the address (`[0xfee00030]`)');
  const t = p.expectNum('a physical address');
  const a = p.small(t, 0xfffffffc, 'a physical address');
  if (a % 4 !== 0) p.error(t.pos, `an MMIO access is 32 bits at a 4-byte aligned address, found ${t.text}`);
  p.expect(']', 'after the address');
  return a;
}

const addrText = (a: number): string => `[0x${a.toString(16).padStart(8, '0')}]`;

/** Where a real machine's physical address space has devices, not RAM the guest runs in (the PC's MMIO hole). */
const HOLE_START = 0xfec00000;
const HOLE_END = 0xff000000;
const isIoapic = (a: number): boolean => a >>> 12 === IOAPIC_DEFAULT_BASE >>> 12;

/** The address may reach the CPU's own APIC (its configuration, its ICR status) or the I/O APIC. */
function touches(addr: number, write: boolean, f: FootprintCtx): void {
  f.writeOwnConfig();
  f.readOwnStatus();
  if (!isIoapic(addr)) return;
  if (!write) return f.readIoapic();
  f.writeIoapic();
  if (f.future) f.writeAllCpus();
}

function analyzeAddr(addr: number, a: AnalyzeCtx): void {
  if (addr < HOLE_START || addr >= HOLE_END) a.refuse('other', `${addrText(addr)} is outside the MMIO hole FEC00000H-FEFFFFFFH: in the guest it may be the runtime's own memory`);
  if (isIoapic(addr)) a.need('ioapic');
  if (isIoapic(addr) && (addr & 0xff) === IoApicMmio.EOI) a.need('ioapicVersion');
}

export const mmio: OpFamily<'mmio-read' | 'mmio-write'> = {
  parse: {
    mmio(p, t) {
      p.next();
      const sub = p.expectName('`read` or `write` after `mmio`');
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`mmio read ${dst}\``);
        return { kind: 'mmio-read', dst, addr: address(p), pos: t.pos };
      }
      if (sub.text !== 'write') p.fail(sub.pos, `expected \`read\` or \`write\` after \`mmio\`, found \`${sub.text}\``);
      const addr = address(p);
      p.expect('=', 'after `mmio write [ADDR]`');
      return { kind: 'mmio-write', addr, value: expr(p), pos: t.pos };
    },
  },
  defs: {
    'mmio-read': {
      where: 'cpu',
      word: () => 'mmio read',
      print: (op) => `mmio read ${op.dst} = ${addrText(op.addr)}`,
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `mmio read ${op.dst} = ${addrText(op.addr)}`,
      exec(op, x) {
        x.setReg(op.dst, BigInt(x.physRead(op.addr) >>> 0));
        return x.pc + 1;
      },
      footprint: (op, f) => touches(op.addr, false, f),
      analyze: (op, a) => analyzeAddr(op.addr, a),
      emit(op, e) {
        const load = isIoapic(op.addr)
          ? ['  pushfd', '  cli', '  call lit_ioapic_lock_take', `  mov eax, [${asmHex(op.addr)}]`, '  call lit_ioapic_lock_give', '  popfd']
          : [`  mov eax, [${asmHex(op.addr)}]`];
        e.out.push(...load, '  xor edx, edx');
        e.setReg(op.dst);
      },
    },
    'mmio-write': {
      where: 'cpu',
      word: () => 'mmio write',
      print: (op) => `mmio write ${addrText(op.addr)} = ${printExpr(op.value)}`,
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `mmio write ${addrText(op.addr)}`,
      exec(op, x) {
        x.physWrite(op.addr, Number(x.eval(op.value) & 0xffffffffn));
        return x.pc + 1;
      },
      footprint: (op, f) => touches(op.addr, true, f),
      analyze: (op, a) => analyzeAddr(op.addr, a),
      emit(op, e) {
        e.expr(op.value);
        if (isIoapic(op.addr)) e.out.push('  pushfd', '  cli', '  call lit_ioapic_lock_take', `  mov [${asmHex(op.addr)}], eax`, '  call lit_ioapic_lock_give', '  popfd', '  LIT_EVENT');
        else e.out.push(`  mov [${asmHex(op.addr)}], eax`);
      },
    },
  },
};
