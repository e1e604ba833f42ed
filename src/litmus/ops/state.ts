// `await Pk.activity == halted` (extension): a process waits for a CPU's state (or the I/O APIC's), so that, say, an
// IPI that must wake a halted CPU is sent only once it has halted. The value is an observable's, read as the final
// condition reads it (src/litmus/outcome.ts).

import type { Observable, Value } from '../ast.js';
import { num, observableName } from '../format.js';
import { valueEquals } from '../outcome.js';
import { stateValueError } from '../values.js';
import type { FootprintCtx, OpFamily } from './types.js';

/** The observables an `await` may wait on: state the model changes by itself (not counters or registers). */
export const AWAITABLE: ReadonlySet<Observable['kind']> = new Set(['activity', 'smm', 'done', 'vmx', 'apic-mode', 'irr', 'isr', 'tmr', 'remote-irr', 'gif', 'running']);

const valueText = (v: Value): string => (v.kind === 'num' ? num(v.value) : v.name);

function reads(loc: Observable, f: FootprintCtx): void {
  if (loc.kind === 'remote-irr') f.readIoapic();
  else if ('cpu' in loc) f.readCpu(loc.cpu);
}

/** The halted flag the guest runtime keeps per CPU (guest/litmus.asm LIT_HALTED), and SMM's (LIT_IN_SMM). */
const GUEST_FLAG: Partial<Record<Observable['kind'], { flag: string; value: (v: Value) => number | null }>> = {
  activity: { flag: 'LIT_HALTED', value: (v) => (v.kind === 'sym' && v.name === 'halted' ? 1 : null) },
  smm: { flag: 'LIT_IN_SMM', value: (v) => (v.kind === 'num' ? Number(v.value) : null) },
};

export const state: OpFamily<'await-state'> = {
  parse: {},
  defs: {
    'await-state': {
      where: 'any',
      word: () => 'await',
      print: (op) => `await ${observableName(op.loc)} ${op.cmp} ${valueText(op.value)}`,
      validate(op, v) {
        if (!AWAITABLE.has(op.loc.kind)) v.error(op.loc.pos, `\`await\` waits on a CPU's state (${[...AWAITABLE].map((k) => `\`${k}\``).join(', ')}), or on a memory word; \`${observableName(op.loc)}\` is not one`);
        const bad = stateValueError(op.loc, op.value);
        if (bad !== null) v.error(op.value.pos, bad);
        if (op.loc.kind === 'remote-irr' && !v.settings.ioapic) v.error(op.loc.pos, 'the test has `ioapic = false`: there is no I/O APIC to wait on');
      },
      refs(op, r) {
        if ('cpu' in op.loc) r.cpu(op.loc.cpu, op.loc.pos);
      },
      describe: (op) => `await ${observableName(op.loc)} ${op.cmp} ${valueText(op.value)}`,
      enabled(op, x) {
        const eq = valueEquals(x.observe(op.loc), op.value);
        return op.cmp === '==' ? eq : !eq;
      },
      exec: (_op, x) => x.pc + 1,
      footprint: (op, f) => reads(op.loc, f),
      waitsFor: (op, f) => reads(op.loc, f),
      analyze(op, a) {
        const g = GUEST_FLAG[op.loc.kind];
        if (!g || g.value(op.value) === null) {
          a.refuse('await-state', `the guest runtime publishes only whether a CPU is halted (\`Pk.activity == halted\`, \`!= halted\`) or in SMM (\`Pk.smm\`), not \`${observableName(op.loc)} ${op.cmp} ${valueText(op.value)}\``);
        }
      },
      emit(op, e) {
        // Spin on the runtime's flag for the CPU; once it holds, let a moment pass (LIT_EVENT_LONG's settle) so that
        // the CPU is inside its HLT, not between setting the flag and executing it (docs/conformance.md).
        const g = GUEST_FLAG[op.loc.kind]!, want = g.value(op.value)!, cpu = (op.loc as { cpu: number }).cpu;
        const top = e.local(), done = e.local();
        const blocked = `LIT_BLOCKED + ${e.apicId} * 4`;
        e.out.push(`  push dword [${blocked}]`, `  mov dword [${blocked}], 1   ; blocked: the run may end here`, `${top}:`,
          `  cmp dword [${g.flag} + ${cpu} * 4], ${want}`, `  ${op.cmp === '==' ? 'je' : 'jne'} ${done}`, '  pause', `  jmp ${top}`, `${done}:`,
          `  pop dword [${blocked}]`, '  mov eax, 20', '  call lapis_delay_us                 ; the CPU is past the flag, in its HLT');
      },
    },
  },
};
