// Limits of what `lapis run` can answer, checked by `lapis check` so that a file check accepts can be run
// (docs/litmus.md, "Limits"): the nesting limits are the parser's (cursor.ts, parse.ts); these need the whole tree.

import type { LitmusTest, Op } from './ast.js';
import type { Reporter } from './diagnostic.js';

/**
 * `repeat` iterations of a test once unrolled, nested ones multiplied out (`repeat 100 { repeat 100 {...} }` is
 * 100 + 100 x 100): the simulator unrolls every `repeat` into straight-line code (src/sim/program.ts).
 */
export const MAX_REPEAT_ITERATIONS = 10_000;
/** vCPUs under `accel = avic`: the simulator keeps the AVIC IPI path's targets as a bit per vCPU in one word. */
export const MAX_AVIC_CPUS = 32;

export function checkLimits(test: LitmusTest, rep: Reporter): void {
  const accel = test.config?.entries.find((e) => e.key === 'accel');
  if (accel && test.settings.accel === 'avic' && test.settings.cpus > MAX_AVIC_CPUS) {
    rep.error(accel.pos, `\`accel = avic\` models at most ${MAX_AVIC_CPUS} vCPUs; this test has ${test.settings.cpus} CPUs`);
  }
  let iterations = 0, reported = false;
  /** Count the iterations of `body` run `times` times; report the `repeat` that goes past the limit. */
  const count = (body: Op[], times: number): void => {
    for (const op of body) {
      if (op.kind === 'unplug' && op.cpu === 0) rep.error(op.pos, '`unplug P0`: P0 is the BSP, which cannot be unplugged (hotplug is for APs)');
      if (op.kind !== 'repeat' || reported) continue;
      iterations += times * op.count;
      if (iterations > MAX_REPEAT_ITERATIONS) {
        rep.error(op.pos, `\`repeat\` unrolls to more than ${MAX_REPEAT_ITERATIONS.toLocaleString('en-US')} iterations in this test (the limit: all \`repeat\` counts, nested ones multiplied; use a loop with \`if ... goto\` for more)`);
        reported = true;
        continue;
      }
      count(op.body, times * op.count);
    }
  };
  for (const b of test.blocks) count(b.body, 1);
}
