// Pins of one processor and the 8259A (extension): `reset -> Pk` (RESET#, not INIT), `lint0 Pk assert` /
// `lint1 Pk deassert` / `... pulse` (LINT0/LINT1 through their LVT entries: NMI through LINT1, ExtINT through
// LINT0), and the minimal 8259A of `config { pic = true }`: `pic irq N assert|deassert|pulse` (its inputs, agents)
// and `pic write PORT = E` / `pic read rK = PORT` (its ports 20h/21h, CPUs).

import { PIC_COMMAND, PIC_DATA, PIC_INPUTS } from '../../arch/pic.js';
import { printExpr } from '../format.js';
import type { Cursor } from '../cursor.js';
import { describe as describeToken, type Token } from '../lexer.js';
import { cpuRef, dstReg, expr } from '../syntax.js';
import type { AnalyzeCtx, FootprintCtx, OpFamily, OpOf, ValidateCtx } from './types.js';

type Action = 'assert' | 'deassert' | 'pulse';

function action(p: Cursor, after: string): Action {
  const a = p.expectName(`\`assert\`, \`deassert\` or \`pulse\` after \`${after}\``);
  if (a.text !== 'assert' && a.text !== 'deassert' && a.text !== 'pulse') p.fail(a.pos, `expected \`assert\`, \`deassert\` or \`pulse\` after \`${after}\`, found ${describeToken(a)}`);
  return a.text;
}

/** The levels an action drives: a pulse is a rising then a falling edge. */
const levels = (a: Action): boolean[] => (a === 'pulse' ? [true, false] : [a === 'assert']);

function needsPic(word: string, pos: Token['pos'], v: ValidateCtx): void {
  if (!v.settings.pic) v.error(pos, `\`${word}\` needs the 8259A: add \`pic = true\` to config`);
}

function port(p: Cursor): number {
  const t = p.expectNum('an 8259A port (0x20 or 0x21)');
  if (t.value !== BigInt(PIC_COMMAND) && t.value !== BigInt(PIC_DATA)) p.error(t.pos, `the 8259A has ports 0x20 (command) and 0x21 (data), found ${t.text}`);
  return Number(t.value & 0xffn);
}

const PIN = 'a pin of one processor: the runtime cannot drive it on a real machine (the board wires RESET# and LINT0/LINT1)';
const PIC = 'the runtime masks the 8259A, whose inputs also carry the PIT and the firmware\'s devices; ExtINT is not compiled';
const refusePin = (_op: unknown, a: AnalyzeCtx): never => a.refuse('platform-pin', PIN);
const refusePic = (_op: unknown, a: AnalyzeCtx): never => a.refuse('pic', PIC);
const hex2 = (v: number): string => `0x${v.toString(16)}`;

export const pins: OpFamily<'reset' | 'lint' | 'pic-irq' | 'pic-write' | 'pic-read'> = {
  parse: {
    reset(p, t) {
      p.next();
      p.expect('->', 'after `reset` (`reset -> Pk`)');
      return { kind: 'reset', cpu: cpuRef(p, 'a CPU (`Pk`) after `reset ->`'), pos: t.pos };
    },
    lint0: lintParse,
    lint1: lintParse,
    pic(p, t) {
      p.next();
      const sub = p.expectName('`irq`, `write` or `read` after `pic`');
      if (sub.text === 'irq') {
        const n = p.expectNum('an 8259A input (0..7) after `pic irq`');
        const irq = p.small(n, PIC_INPUTS - 1, 'an 8259A input');
        return { kind: 'pic-irq', irq, action: action(p, `pic irq ${n.text}`), pos: t.pos };
      }
      if (sub.text === 'write') {
        const pt = port(p);
        p.expect('=', 'after `pic write PORT`');
        return { kind: 'pic-write', port: pt, value: expr(p), pos: t.pos };
      }
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`pic read ${dst}\``);
        return { kind: 'pic-read', dst, port: port(p), pos: t.pos };
      }
      return p.fail(sub.pos, `expected \`irq\`, \`write\` or \`read\` after \`pic\`, found ${describeToken(sub)}`);
    },
  },
  defs: {
    reset: {
      where: 'agent',
      print: (op) => `reset -> P${op.cpu}`,
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `reset -> P${op.cpu}`,
      exec(op, x) {
        x.resetPin(op.cpu);
        return x.pc + 1;
      },
      footprint(op, f) {
        f.writeCpu(op.cpu);
        f.writeCpuConfig(op.cpu);
      },
      analyze: refusePin,
      emit: (_op, e) => e.refuse('platform-pin', PIN),
    },
    lint: {
      where: 'agent',
      word: (op) => `lint${op.pin}`,
      print: (op) => `lint${op.pin} P${op.cpu} ${op.action}`,
      validate(op, v) {
        if (op.pin === 0 && v.settings.pic) v.error(op.pos, '`lint0`: with `pic = true` LINT0 is the 8259A\'s INT output; drive the 8259A with `pic irq N ...`');
      },
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: (op) => `lint${op.pin} P${op.cpu} ${op.action}`,
      exec(op, x) {
        for (const l of levels(op.action)) x.lint(op.cpu, op.pin, l);
        return x.pc + 1;
      },
      footprint: (op, f) => f.writeCpu(op.cpu),
      analyze: refusePin,
      emit: (_op, e) => e.refuse('platform-pin', PIN),
    },
    'pic-irq': {
      where: 'agent',
      word: () => 'pic irq',
      print: (op) => `pic irq ${op.irq} ${op.action}`,
      validate: (op, v) => needsPic('pic irq', op.pos, v),
      refs: () => {},
      describe: (op) => `pic irq ${op.irq} ${op.action}`,
      exec(op, x) {
        for (const l of levels(op.action)) x.picInput(op.irq, l);
        return x.pc + 1;
      },
      footprint: drivesPic,
      analyze: refusePic,
      emit: (_op, e) => e.refuse('pic', PIC),
    },
    'pic-write': {
      where: 'cpu',
      word: () => 'pic write',
      print: (op) => `pic write ${hex2(op.port)} = ${printExpr(op.value)}`,
      validate: (op, v) => needsPic('pic write', op.pos, v),
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `pic write ${hex2(op.port)}`,
      exec(op, x) {
        x.machine.picWrite(op.port, Number(x.eval(op.value) & 0xffn));
        return x.pc + 1;
      },
      footprint: drivesPic,
      analyze: refusePic,
      emit: (_op, e) => e.refuse('pic', PIC),
    },
    'pic-read': {
      where: 'cpu',
      word: () => 'pic read',
      print: (op) => `pic read ${op.dst} = ${hex2(op.port)}`,
      validate: (op, v) => needsPic('pic read', op.pos, v),
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `pic read ${op.dst} = ${hex2(op.port)}`,
      exec(op, x) {
        x.setReg(op.dst, BigInt(x.machine.picRead(op.port)));
        return x.pc + 1;
      },
      footprint: (_op, f) => f.readIoapic(),
      analyze: refusePic,
      emit: (_op, e) => e.refuse('pic', PIC),
    },
  },
};

/** The 8259A's state changes: its INT drives every CPU's LINT0 at once, and I/O APIC pin 0. */
function drivesPic(_op: unknown, f: FootprintCtx): void {
  f.writeIoapic();
  f.writeAllCpus();
}

function lintParse(p: Cursor, t: Token): OpOf<'lint'> {
  p.next();
  const pin = t.text === 'lint0' ? 0 : 1;
  const cpu = cpuRef(p, `a CPU (\`Pk\`) after \`${t.text}\``);
  return { kind: 'lint', pin, cpu, action: action(p, `${t.text} P${cpu}`), pos: t.pos };
}
