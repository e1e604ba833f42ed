// SMM: `rsm` (SDM Vol 3C 34.13 Returning from SMM: the only way out of SMM), `smbase = E`, the handler's write
// of the save-state SMBASE field that RSM loads (SDM Vol 3C 34.11 SMBASE Relocation), and `smram read rK = F` /
// `smram write F = E` for the state-save map's SMBASE, auto HALT restart (34.10) and I/O instruction restart (34.12)
// fields. The map is memory at SMBASE: processors in SMM with one SMBASE share it (decision D-26).

import { Activity, SAVE_STATE_FIELDS, type SaveStateField } from '../../arch/cpu.js';
import { printExpr } from '../format.js';
import { describe as describeToken } from '../lexer.js';
import { didYouMean } from '../names.js';
import type { Cursor } from '../cursor.js';
import { dstReg, expr } from '../syntax.js';
import type { EmitCtx, FootprintCtx, OpFamily, ValidateCtx } from './types.js';
import type { Op } from '../ast.js';

function saveField(p: Cursor): SaveStateField {
  const t = p.expectName(`a state-save map field (${SAVE_STATE_FIELDS.map((f) => `\`${f}\``).join(', ')})`);
  if ((SAVE_STATE_FIELDS as readonly string[]).includes(t.text)) return t.text as SaveStateField;
  return p.fail(t.pos, `no state-save map field ${describeToken(t)}${didYouMean(t.text, SAVE_STATE_FIELDS) || `; expected ${SAVE_STATE_FIELDS.join(', ')}`}`);
}

function onlyInSmi(op: Op, word: string, v: ValidateCtx): void {
  if (!(v.block.kind === 'cpu' && v.block.handler === 'smi')) {
    v.error(op.pos, `\`${word}\` is only allowed in an \`on smi\` block (it needs SMM), not in \`${v.where}\``);
  }
}

/** A write to the map reaches every processor in SMM with this one's SMBASE (D-26). */
function writesSaveMap(f: FootprintCtx): void {
  f.writeSaveMap();
}

/**
 * edi = the address of a state-save map field at this CPU's last SMM entry, or jump to `skip` (none). The runtime
 * found the SMBASE field at entry (guest/litmus.asm lit_smm_entry32): at SMBASE + 0xFF00 in the AMD64 map, where I/O
 * instruction restart and auto HALT restart are the bytes at + 0xFEC8 and + 0xFEC9 (APM Vol 2 10.2.3, Table 10-2);
 * at SMBASE + 0xFEF8 in the Intel maps, where they are the words at + 0xFF00 and + 0xFF02 (SDM Vol 3C 34.4.1,
 * Tables 34-1 and 34-3). Both fields' meaning is in their low byte.
 */
function fieldAddress(e: EmitCtx, field: SaveStateField, skip: string): void {
  e.out.push(`  mov edi, [LIT_SMBASE_FLD + ${e.apicId} * 4]   ; the save-state SMBASE field (AMD64 or Intel map)`, '  test edi, edi', `  jz ${skip}`);
  if (field === 'SMBASE') return;
  const amd = e.local(), done = e.local(), io = field === 'IO_RESTART';
  e.out.push('  mov ecx, edi', `  sub ecx, [LIT_SMBASE_NOW + ${e.apicId} * 4]`, '  cmp ecx, 0xFF00', `  je ${amd}`);
  e.out.push(`  add edi, ${io ? 8 : 10}                        ; Intel: SMBASE + ${io ? '0xFF00' : '0xFF02'}`, `  jmp ${done}`);
  e.out.push(`${amd}:`, `  sub edi, ${io ? '0x38' : '0x37'}                     ; AMD64: SMBASE + ${io ? '0xFEC8' : '0xFEC9'}`, `${done}:`);
}

export const smm: OpFamily<'rsm' | 'smbase' | 'smram-read' | 'smram-write'> = {
  parse: {
    rsm: (p, t) => (p.next(), { kind: 'rsm', pos: t.pos }),
    smram(p, t) {
      p.next();
      const sub = p.expectName('`read` or `write` after `smram`');
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`smram read ${dst}\``);
        return { kind: 'smram-read', dst, field: saveField(p), pos: t.pos };
      }
      if (sub.text === 'write') {
        const field = saveField(p);
        p.expect('=', `after \`smram write ${field}\``);
        return { kind: 'smram-write', field, value: expr(p), pos: t.pos };
      }
      return p.fail(sub.pos, `expected \`read\` or \`write\` after \`smram\`, found ${describeToken(sub)}`);
    },
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
        const error = cpu.rsmProgramError();
        if (error !== null) x.fault(error);
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
      footprint: (_op, f) => writesSaveMap(f),
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
    'smram-read': {
      where: 'cpu',
      word: () => 'smram read',
      print: (op) => `smram read ${op.dst} = ${op.field}`,
      validate: (op, v) => onlyInSmi(op, 'smram read', v),
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `smram read ${op.dst} = ${op.field}`,
      exec(op, x) {
        const v = x.cpu!.readSaveState(op.field);
        x.setReg(op.dst, BigInt(v));
        x.trace(`smram read ${op.field} = 0x${v.toString(16)}`);
        return x.pc + 1;
      },
      footprint: () => {},
      emit(op, e) {
        const skip = e.local(), done = e.local();
        fieldAddress(e, op.field, skip);
        if (op.field === 'SMBASE') e.out.push('  mov eax, [edi]');
        else e.out.push('  movzx eax, byte [edi]', ...(op.field === 'AUTO_HALT_RESTART' ? ['  and eax, 1'] : []));
        e.out.push(`  jmp ${done}`, `${skip}:`, '  xor eax, eax', `${done}:`, '  xor edx, edx');
        e.setReg(op.dst);
      },
    },
    'smram-write': {
      where: 'cpu',
      word: () => 'smram write',
      print: (op) => `smram write ${op.field} = ${printExpr(op.value)}`,
      validate: (op, v) => onlyInSmi(op, 'smram write', v),
      refs: (op, r) => r.expr(op.value),
      describe: (op) => `smram write ${op.field}`,
      exec(op, x) {
        const v = Number(x.eval(op.value) & 0xffffffffn);
        x.cpu!.writeSaveState(op.field, v);
        x.trace(`smram write ${op.field} = 0x${v.toString(16)}`);
        return x.pc + 1;
      },
      footprint: (_op, f) => writesSaveMap(f),
      analyze(op, a) {
        const v = op.value;
        if (op.field === 'IO_RESTART' && !(v.kind === 'num' && v.value === 0n)) {
          return a.refuse('other', 'I/O instruction restart set after an SMI that trapped no I/O instruction (a test\'s SMIs never do): a real RSM then re-executes from an undefined I/O RIP (SDM Vol 3C 34.12, "will likely result in a program error"); the model counts a fault instead');
        }
        if (op.field !== 'SMBASE') return;
        if (v.kind !== 'num') return a.refuse('smbase', 'a computed SMBASE: the runtime installs its SMM entry at every SMBASE a test can reach before the run, so the value must be a constant');
        a.smbase(Number(v.value));
      },
      emit(op, e) {
        const skip = e.local();
        e.expr(op.value);
        fieldAddress(e, op.field, skip);
        if (op.field === 'SMBASE') e.out.push('  mov [edi], eax');
        else if (op.field === 'IO_RESTART') e.out.push('  mov [edi], al');
        else e.out.push('  and al, 1', '  and byte [edi], 0xFE', '  or [edi], al');
        e.out.push(`${skip}:`);
      },
    },
  },
};
