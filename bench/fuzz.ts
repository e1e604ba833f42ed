// npm run fuzz -- --seconds N [--seed S] [--only api|text|mutated] [--out DIR]: a fuzzing campaign for as long as
// asked, over the embedding API (random sequences of machine calls and host misuse, every architectural invariant
// checked after each call: test/machine/arbitrary.ts) and over litmus inputs (any text and mutated catalog files:
// parse never throws, diagnostics stay short, accepted tests print and parse back, small ones run:
// test/litmus/inputs.ts). npm test runs the same properties, bounded. Prints what was tried and each finding, shrunk,
// and writes the findings to DIR (default fuzz-findings); exits 1 when there is one. Batches are seeded from --seed
// (default: the time), so a finding names the seed and path that replay it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { configArb, runSteps, stepsArb } from '../test/machine/arbitrary.js';
import { anyText, checkInput, mutatedCatalog } from '../test/litmus/inputs.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const seconds = Number(option('--seconds') ?? 60);
const seed0 = Number(option('--seed') ?? Date.now() % 2 ** 31);
const only = option('--only');
const out = option('--out') ?? 'fuzz-findings';
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed0)) {
  console.error('usage: npm run fuzz -- --seconds N [--seed S] [--only api|text|mutated] [--out DIR]');
  process.exit(2);
}

interface Target {
  name: string;
  /** Runs one batch; counts what it tried in `tried`. */
  batch: (seed: number) => fc.RunDetails<unknown[]>;
  tried: Record<string, number>;
}

function target(name: string, property: (tried: Record<string, number>) => fc.IProperty<unknown[]>, runs: number): Target {
  const tried: Record<string, number> = {};
  const prop = property(tried);
  return { name, tried, batch: (seed) => fc.check(prop, { numRuns: runs, seed }) as fc.RunDetails<unknown[]> };
}
const add = (tried: Record<string, number>, key: string, n = 1): void => {
  tried[key] = (tried[key] ?? 0) + n;
};

const targets: Target[] = [
  target('api', (t) => fc.property(configArb, stepsArb(100), (cfg, steps) => {
    add(t, 'sequences');
    add(t, 'calls', runSteps(cfg, steps));
  }) as fc.IProperty<unknown[]>, 50),
  target('text', (t) => fc.property(anyText, (text) => {
    const r = checkInput(text);
    add(t, 'inputs');
    if (r.parsed) add(t, 'parsed');
  }) as fc.IProperty<unknown[]>, 200),
  target('mutated', (t) => fc.property(mutatedCatalog, (text) => {
    const r = checkInput(text);
    add(t, 'inputs');
    if (r.parsed) add(t, 'parsed');
    if (r.ran) add(t, 'ran');
  }) as fc.IProperty<unknown[]>, 50),
].filter((t) => only === undefined || t.name === only);
if (targets.length === 0) {
  console.error(`--only must be one of api, text, mutated; got ${only}`);
  process.exit(2);
}

const findings: string[] = [];
const seen = new Set<string>();
const t0 = Date.now(), end = t0 + seconds * 1000;
let batch = 0, lastReport = t0;
const summary = (): string => targets.map((t) => `${t.name}: ${Object.entries(t.tried).map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`).join(', ') || 'nothing yet'}`).join('; ');

console.log(`fuzzing for ${seconds} s, seed ${seed0}`);
while (Date.now() < end) {
  const t = targets[batch % targets.length];
  const seed = (seed0 + batch) | 0;
  batch++;
  const r = t.batch(seed);
  if (r.failed && r.counterexample !== null) {
    const message = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
    const key = `${t.name}: ${message.split('\n')[0]}`;
    if (!seen.has(key)) {
      seen.add(key);
      const input = t.name === 'api' ? JSON.stringify(r.counterexample, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v), 1) : String(r.counterexample[0]);
      const report = `target ${t.name}, seed ${seed}, path ${r.counterexamplePath}\n${message}\n--- input (shrunk)\n${input}\n`;
      findings.push(report);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, `finding-${findings.length}-${t.name}.txt`), report);
      console.log(`FINDING ${findings.length} (${t.name}, seed ${seed}): ${message.split('\n')[0].slice(0, 200)}`);
    }
  }
  if (Date.now() - lastReport > 10_000) {
    lastReport = Date.now();
    console.log(`${((lastReport - t0) / 1000).toFixed(0)} s: ${summary()}`);
  }
}
console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${batch} batches from seed ${seed0}`);
console.log(summary());
console.log(findings.length === 0 ? 'no findings' : `${findings.length} findings, written to ${out}/`);
process.exitCode = findings.length === 0 ? 0 : 1;
