// SMM: `rsm` (SDM Vol 3C 34.13 Returning from SMM: the only way out of SMM) and `smbase = E`, the handler's write
// of the save-state SMBASE field that RSM loads (SDM Vol 3C 34.11 SMBASE Relocation).

import { Activity } from '../../arch/cpu.js';
import { printExpr } from '../format.js';
import { expr } from '../syntax.js';
import type { OpFamily, ValidateCtx } from './types.js';
import type { Op } from '../ast.js';

function onlyInSmi(op: Op, word: string, v: ValidateCtx): void {
  if (!(v.block.kind === 'cpu' && v.block.handler === 'smi')) {
    v.error(op.pos, `\`${word}\` is only allowed in an \`on smi\` block (it needs SMM), not in \`${v.where}\``);
  }
}

export const smm: OpFamily<'rsm' | 'smbase'> = {
  parse: {
    rsm: (p, t) => (p.next(), { kind: 'rsm', pos: t.pos }),
    smbase(p, t) {
      p.next();
      p.expect('=', 'after `smbase` (write the SMBASE save-state field: `smbase = E`)');
      return { kind: 'smbase', value: expr(p), pos: t.pos };
    },
  },
  defs: {
    rsm: {
      where: 'cpu',
      print: () => 'rsm',
      validate: (op, v) => onlyInSmi(op, 'rsm', v),
      refs: () => {},
      describe: () => 'rsm',
      exec(_op, x) {
        const cpu = x.cpu!;
        if (!cpu.rsm()) {
          x.fault('rsm outside SMM (#UD)');
          return x.pc + 1;
        }
        const f = x.popFrame();
        if (f.pc === x.idlePc && cpu.activity() === Activity.ACTIVE) x.halt();
        return f.pc;
      },
      footprint: () => {},
      emit: (_op, e) => void e.out.push('  jmp lit_smm_exit'),
    },
    smbase: {
      where: 'cpu',
      word: () => 'smbase = E',
      print: (op) => `smbase = ${printExpr(op.value)}`,
      validate: (op, v) => onlyInSmi(op, 'smbase = E', v),
      refs: (op, r) => r.expr(op.value),
      describe: () => 'smbase',
      exec(op, x) {
        x.cpu!.writeSaveStateSmbase(Number(x.eval(op.value) & 0xffffffffn));
        return x.pc + 1;
      },
      footprint: () => {},
      analyze(op, a) {
        const v = op.value;
        if (v.kind !== 'num') return a.refuse('smbase', 'a computed SMBASE: the runtime installs its SMM entry at every SMBASE a test can reach before the run, so the value must be a constant');
        a.smbase(Number(v.value));
      },
      emit(op, e) {
        // The handler writes the save-state SMBASE field; RSM loads it, so the new SMBASE takes effect at the next
        // SMI. The field's address was found at SMM entry (guest/litmus.asm).
        const skip = e.local();
        e.expr(op.value);
        e.out.push(`  mov edi, [LIT_SMBASE_FLD + ${e.apicId} * 4]   ; the save-state SMBASE field (AMD64 or Intel map)`, '  test edi, edi', `  jz ${skip}`, '  mov [edi], eax', `${skip}:`);
      },
    },
  },
};
