// The litmus fuzzer's properties, bounded (npm run fuzz runs them for as long as asked): any text and mutated
// catalog files never make the front end throw, accepted ones print and parse back, and small ones run.
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { anyText, checkInput, mutatedCatalog } from './inputs.js';

it('any text: parse never throws, and a rejected one gets short, printable diagnostics', () => {
  fc.assert(fc.property(anyText, (text) => void checkInput(text)), { numRuns: 300 });
});

it('mutated catalog files: parse never throws, accepted ones round-trip through print and run', () => {
  let ran = 0;
  fc.assert(fc.property(mutatedCatalog, (text) => void (checkInput(text).ran && ran++)), { numRuns: 150 });
  // About one mutated file in eight is still valid, so some run (all 150 invalid: about 1 chance in 10^8).
  expect(ran).toBeGreaterThan(0);
});
