// The API fuzzer's property, bounded (npm run fuzz runs it for as long as asked): random sequences of guest
// operations and host misuse on random machines, every architectural invariant checked after each call.
import { it } from 'vitest';
import fc from 'fast-check';
import { configArb, runSteps, stepsArb } from './arbitrary.js';

it('random calls keep every invariant, and host misuse throws HostError and changes nothing', () => {
  fc.assert(fc.property(configArb, stepsArb(60), (cfg, steps) => void runSteps(cfg, steps)), { numRuns: 150 });
});
