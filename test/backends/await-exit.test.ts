// A CPU leaving an `await` counts as running again before its await record goes: the other order left an
// instruction boundary where the coordinator saw it blocked with no await to look at (as in a HLT op), and a vCPU
// thread the host stopped there let the run end before the op after the await. seed-004-cpu0-nmi-wakeup on QEMU 7.2
// beside two CPU-bound processes: P0's NMI then came after the end-of-test ping was armed and was taken as the ping,
// 175 runs of 1,000; with this order 2 of 999 (CONFORMANCE.md F54).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileTest } from '../../src/backends/compile.js';
import { load } from './helpers.js';

/** Each await's exit in `asm`: the two lines after a label that are its record's clear and its LIT_BLOCKED's pop. */
function awaitExits(asm: string): string[][] {
  const lines = asm.split('\n').map((l) => l.trim());
  const out: string[][] = [];
  for (let i = 1; i + 1 < lines.length; i++) {
    const pair = [lines[i], lines[i + 1]];
    if (/^\.\w+:$/.test(lines[i - 1]) && pair.some((l) => /^mov dword \[LIT_AWAIT \+ \d+ \* 16\], 0$/.test(l)) &&
      pair.some((l) => /^pop dword \[LIT_BLOCKED \+ \d+ \* 4\]$/.test(l))) out.push(pair);
  }
  return out;
}

describe('leaving an await', () => {
  it('seed-004-cpu0-nmi-wakeup: P0 is running again before its await record is cleared', () => {
    const exits = awaitExits(compileTest(load('litmus/seed-004-cpu0-nmi-wakeup.litmus')).asm);
    expect(exits).toEqual([['pop dword [LIT_BLOCKED + 0 * 4]', 'mov dword [LIT_AWAIT + 0 * 16], 0']]);
  });

  it('every await of the catalog, on a CPU or an agent, in that order', () => {
    let seen = 0;
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus'))) {
      let asm: string;
      try {
        asm = compileTest(load(`litmus/${f}`)).asm;
      } catch {
        continue; // refused by the compiler: no guest
      }
      if (!readFileSync(`litmus/${f}`, 'utf8').includes('await ')) continue;
      for (const [first, second] of awaitExits(asm)) {
        seen++;
        expect([f, first.split(' ')[0], second.split(' ')[0]]).toEqual([f, 'pop', 'mov']);
      }
    }
    expect(seen).toBeGreaterThan(20);
  });
});
