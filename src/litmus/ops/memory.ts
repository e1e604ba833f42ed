// Shared memory and registers: `store X = E`, `load rK = X`, `rK = E`, `await X == E`. Memory is sequentially
// consistent (the contract's "CPU ops"); a real machine gets the same from a locked write (XCHG).

import { cmpOp, dstReg, expr, memWord } from '../syntax.js';
import { printExpr } from '../format.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';
import type { Op, Value } from '../ast.js';
import { describe } from '../lexer.js';
import { parseObservable } from '../parse-cond.js';
import type { OpFamily } from './types.js';

/** `rK = E`: the statement that starts with a register rather than a keyword. */
export function parseAssign(p: Cursor, t: Token): Op {
  const reg = dstReg(p);
  p.expect('=', `after \`${reg}\` (register assignment \`${reg} = E\`)`);
  return { kind: 'assign', reg, value: expr(p), pos: t.pos };
}

export const memory: OpFamily<'store' | 'load' | 'assign' | 'await'> = {
  parse: {
    store(p, t) {
      p.next();
      const loc = memWord(p);
      p.expect('=', `after \`store ${loc}\``);
      return { kind: 'store', loc, value: expr(p), pos: t.pos };
    },
    load(p, t) {
      p.next();
      const reg = dstReg(p);
      p.expect('=', `after \`load ${reg}\``);
      return { kind: 'load', reg, loc: memWord(p), pos: t.pos };
    },
    await(p, t) {
      p.next();
      // `await Pk.FIELD == V` / `await ioapic.N.remote-irr == V` (extension): a state, not a memory word.
      const n = p.peek();
      if (n.kind === 'name' && /^(P(0|[1-9][0-9]*)\.|ioapic\.)/.test(n.text)) {
        const obs = parseObservable(p);
        const cmp = cmpOp(p, ['==', '!='], `after \`await ${n.text}\``) as '==' | '!=';
        const v = p.peek();
        if (v.kind !== 'num' && v.kind !== 'name') p.fail(v.pos, `expected a value (a number or a name such as \`halted\`), found ${describe(v)}`);
        p.next();
        const value: Value = v.kind === 'num' ? { kind: 'num', value: v.value, pos: v.pos } : { kind: 'sym', name: v.text, pos: v.pos };
        return { kind: 'await-state', loc: obs, cmp, value, pos: t.pos };
      }
      const loc = memWord(p);
      const cmp = cmpOp(p, ['==', '!='], `after \`await ${loc}\``) as '==' | '!=';
      return { kind: 'await', loc, cmp, value: expr(p), pos: t.pos };
    },
  },
  defs: {
    store: {
      where: 'any',
      print: (op) => `store ${op.loc} = ${printExpr(op.value)}`,
      refs(op, r) {
        r.writeMem(op.loc, op.pos);
        r.expr(op.value);
      },
      describe: (op) => `store ${op.loc}`,
      exec(op, x) {
        x.setMem(op.loc, x.eval(op.value));
        return x.pc + 1;
      },
      footprint: (op, f) => f.writeMem(op.loc),
      emit(op, e) {
        e.expr(op.value);
        const m = e.mem(op.loc);
        e.out.push(`  mov [${m} + 4], edx`, `  xchg [${m}], eax                ; a locked write: sequentially consistent`);
      },
    },
    load: {
      where: 'any',
      print: (op) => `load ${op.reg} = ${op.loc}`,
      refs(op, r) {
        r.readMem(op.loc, op.pos);
        r.writeReg(op.reg, op.pos);
      },
      describe: (op) => `load ${op.reg} = ${op.loc}`,
      exec(op, x) {
        x.setReg(op.reg, x.mem(op.loc));
        return x.pc + 1;
      },
      footprint: (op, f) => f.readMem(op.loc),
      emit(op, e) {
        const m = e.mem(op.loc);
        e.out.push(`  mov eax, [${m}]`, `  mov edx, [${m} + 4]`);
        e.setReg(op.reg);
      },
    },
    assign: {
      where: 'any',
      print: (op) => `${op.reg} = ${printExpr(op.value)}`,
      refs(op, r) {
        r.writeReg(op.reg, op.pos);
        r.expr(op.value);
      },
      describe: (op) => `${op.reg} = ...`,
      exec(op, x) {
        x.setReg(op.reg, x.eval(op.value));
        return x.pc + 1;
      },
      footprint: () => {},
      emit(op, e) {
        e.expr(op.value);
        e.setReg(op.reg);
      },
    },
    await: {
      where: 'any',
      print: (op) => `await ${op.loc} ${op.cmp} ${printExpr(op.value)}`,
      refs(op, r) {
        r.readMem(op.loc, op.pos);
        r.expr(op.value);
      },
      describe: (op) => `await ${op.loc} ${op.cmp} ...`,
      enabled(op, x) {
        const v = x.mem(op.loc), want = x.eval(op.value);
        return op.cmp === '==' ? v === want : v !== want;
      },
      exec: (_op, x) => x.pc + 1,
      footprint: (op, f) => f.readMem(op.loc),
      waitsFor: (op, f) => f.readMem(op.loc),
      emit(op, e) {
        // Spin until it holds; while spinning the CPU counts as blocked (the run may end here) and the coordinator
        // can read which await it is (LIT_AWAIT) to tell a final state from a slow one, and when it began
        // (LIT_AWAIT_SEQ) and that it still spins (LIT_BEAT) to tell a slow one from a CPU an INIT took away.
        const m = e.mem(op.loc);
        const top = e.local(), spin = e.local(), done = e.local();
        const blocked = `LIT_BLOCKED + ${e.apicId} * 4`;
        e.out.push(`  push dword [${blocked}]`, '  push eax', '  mov eax, [lit_seq]', `  mov [LIT_AWAIT_SEQ + ${e.apicId} * 4], eax`, '  pop eax',
          `  mov dword [${blocked}], 1   ; blocked: the run may end here`, `${top}:`);
        e.expr(op.value);
        const aw = `LIT_AWAIT + ${e.apicId} * 16`;
        e.out.push(`  mov dword [${aw}], ${m}`, `  mov [${aw} + 4], eax`, `  mov [${aw} + 8], edx`, `  mov dword [${aw} + 12], ${op.cmp === '==' ? 1 : 2}`);
        if (op.cmp === '==') e.out.push(`  cmp [${m}], eax`, `  jne ${spin}`, `  cmp [${m} + 4], edx`, `  je ${done}`);
        else e.out.push(`  cmp [${m}], eax`, `  jne ${done}`, `  cmp [${m} + 4], edx`, `  jne ${done}`);
        // Leaving: running again (LIT_BLOCKED as before the await) first, and only then no await. The other order left an
        // instruction boundary where it counted as blocked with no await to look at, as in a HLT op: a vCPU thread the host
        // stopped there for milliseconds let the coordinator end the run before the op after the await (CONFORMANCE.md
        // F54: P0's NMI then came after the end-of-test ping had been armed, and was taken as the ping).
        e.out.push(`${spin}:`, `  inc dword [LIT_BEAT + ${e.apicId} * 4]`, '  pause', `  jmp ${top}`, `${done}:`, `  pop dword [${blocked}]`, `  mov dword [LIT_AWAIT + ${e.apicId} * 16], 0`);
      },
    },
  },
};
