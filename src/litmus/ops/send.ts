// `send MODE [V] -> DEST [level=...] [trigger=...]`: an IPI through the ICR, as a kernel writes it (xAPIC: ICR_HI
// then ICR_LO as one step; x2APIC: one WRMSR). SDM Vol 3A 11.6.1 Interrupt Command Register (ICR).

import { DELIVERY_MODE_NAMES } from '../../arch/apic.js';
import type { Dest, SendOp } from '../ast.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';
import { printDest } from '../format.js';
import { VECTOR_MODES } from '../names.js';
import { levelTrigger, modeName, parseDest, vectorNum } from '../syntax.js';
import { asmHex } from './asm.js';
import { destField, icrLow, resolveDest, shorthandOf } from './dest.js';
import type { AnalyzeCtx, OpFamily } from './types.js';

/** SIPI pages the guest's own memory uses: the IVT, SMRAM at 0x30000-0x3FFFF, the EBDA and BIOS above 0x9F000. */
const SMRAM_PAGES = [0x30, 0x3f];

const hex2 = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

export function destName(d: Dest): string {
  switch (d.kind) {
    case 'cpu': return `P${d.cpu}`;
    case 'phys': return `phys 0x${d.id.toString(16)}`;
    case 'logical': return `logical 0x${d.mask.toString(16)}`;
    default: return d.kind;
  }
}

function analyzeSend(op: SendOp, a: AnalyzeCtx): void {
  const t = a.targets(op.dest);
  const v = op.vector ?? 0;
  switch (op.mode) {
    case 'init':
      if (t.cpus.includes(0)) a.refuse('bsp-init', 'INIT to the BSP sends it to the firmware on a real machine');
      if (t.spare) a.refuse('spare-cpu', 'INIT would reach the spare CPUs that run the coordinator');
      if (op.dest.kind === 'logical') a.refuse('bsp-init', 'a logical INIT may reach the BSP');
      if (op.level !== 'deassert') a.initTo(t.cpus);
      break;
    case 'smi':
      if (t.spare) a.refuse('spare-cpu', 'the SMI would reach the spare CPUs that run the coordinator');
      a.smiTo(t.cpus);
      break;
    case 'lowest':
      if (t.spare) a.refuse('spare-cpu', 'lowest priority could pick a spare CPU');
      if (v < 32) a.refuse('vector-lt-32', 'vectors 0-31 are exceptions in the guest');
      break;
    case 'fixed':
      if (v < 32) a.refuse('vector-lt-32', 'vectors 0-31 are exceptions in the guest');
      break;
    case 'sipi':
      if (v === 0 || v >= 0x9f || (v >= SMRAM_PAGES[0] && v <= SMRAM_PAGES[1])) {
        a.refuse('other', `the SIPI page ${asmHex(v << 12)} is not free memory in the guest (the IVT, SMRAM at 0x30000-0x3ffff, or the EBDA and BIOS above 0x9f000)`);
      }
      a.sipiPage(v);
      break;
    case 'nmi':
      a.need('nmi');
      break;
    default:
      break;
  }
}

export const send: OpFamily<'send'> = {
  parse: {
    send(p: Cursor, t: Token) {
      p.next();
      const mode = modeName(p, DELIVERY_MODE_NAMES, 'a delivery mode after `send`');
      let vector: number | null = null;
      const v = p.peek();
      if (v.kind === 'num') vector = vectorNum(p, p.next());
      const arrow = p.expect('->', vector === null ? `or a vector after \`send ${mode}\`` : `after \`send ${mode} ${v.text}\``);
      if (vector === null && VECTOR_MODES.includes(mode)) p.error(arrow.pos, `\`send ${mode}\` needs a vector: \`send ${mode} V -> DEST\``);
      const dest = parseDest(p, true);
      const { level, trigger } = levelTrigger(p, 'send');
      return { kind: 'send', mode, vector, dest, level, trigger, pos: t.pos };
    },
  },
  defs: {
    send: {
      where: 'cpu',
      whereHint: '; an agent signals with `smi -> Pk`, `nmi -> Pk`, `init -> Pk` or `msi DEST vector V`',
      print(op) {
        const v = op.vector === null ? '' : ` ${hex2(op.vector)}`;
        const lv = op.level === null ? '' : ` level=${op.level}`;
        const tr = op.trigger === null ? '' : ` trigger=${op.trigger}`;
        return `send ${op.mode}${v} -> ${printDest(op.dest)}${lv}${tr}`;
      },
      refs: (op, r) => r.dest(op.dest),
      describe: (op) => `send ${op.mode}${op.vector !== null ? ` 0x${op.vector.toString(16)}` : ''} -> ${destName(op.dest)}`,
      exec(op, x) {
        const d = resolveDest(x.machine, op.dest);
        x.icrWrite(icrLow(op, d), d.destination);
        return x.pc + 1;
      },
      // Under AVIC and APICv the ICR write itself sets the targets' IRR or PIR (no message on the bus).
      footprint: (op, f) => f.dest(op.dest, op.mode === 'lowest', f.settings.accel === 'avic' || f.settings.accel === 'apicv'),
      analyze: analyzeSend,
      emit(op, e) {
        const icr = icrLow(op, { shorthand: shorthandOf(op.dest), logical: op.dest.kind === 'logical' });
        const dest = destField(op.dest);
        if (op.mode === 'init' && op.level !== 'deassert') {
          for (const c of e.targets(op.dest).cpus) e.out.push(`  LIT_INIT_SENT ${c}`);
        }
        if (op.mode === 'sipi') {
          for (const c of e.targets(op.dest).cpus) e.out.push(`  mov eax, ${c}`, `  call lit_sipi_sent                  ; (the run waits for it if P${c} waits for a SIPI)`);
        }
        e.out.push(`  LIT_SEND ${e.apicId}, ${asmHex(icr)}, ${asmHex(dest)}`);
      },
    },
  },
};
