#!/usr/bin/env node
// The lapis command line. Exit codes: 0 every answer as expected, 1 a mismatch, 2 a usage or parse error.
import { Command, InvalidArgumentError } from 'commander';
import { runSeeds } from './seeds.js';
import { loadTest, printRun, profileOrThrow, runTest, UsageError } from './run.js';
import { PROFILES } from '../sim/profiles.js';
import { runSuite } from './suite.js';
import { progressLine } from './progress.js';
import { BACKENDS } from '../backends/backends.js';
import { runOn, suiteOn } from '../backends/cli.js';

const program = new Command();
program.name('lapis').description('A model of the x86 interrupt architecture: local APIC, I/O APIC, INIT/SIPI/SMI/NMI, SMM')
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

program
  .command('seeds')
  .description("run the seed threads' scenarios on the model and print a table")
  .option('--trace', "print each scenario's trace")
  .action((opts: { trace?: boolean }) => {
    process.exitCode = runSeeds(opts.trace ?? false, (line) => console.log(line));
  });

program
  .command('run')
  .description('explore every interleaving of litmus tests on the model and answer their conditions')
  .argument('<files...>')
  .option('--profile <name>', 'spec, or a named implementation (lapis profiles)', 'spec')
  .option('--json', 'one JSON object per test')
  .option('--trace', 'print the shortest run to each outcome')
  .option('--trace-json', 'the traces as JSON')
  .option('--max-states <n>', 'stop after this many distinct states', int('--max-states'))
  .option('--max-depth <n>', 'do not follow runs longer than this', int('--max-depth'))
  .option('--timeout <seconds>', 'stop after this long', int('--timeout'))
  .option('--random <runs>', 'random runs instead of exhaustive search', int('--random'))
  .option('--seed <n>', 'seed for --random', int('--seed'), 1)
  .option('--first', 'stop at the first run that decides the answer (a witness or a counterexample)')
  .option('--no-por', 'explore every interleaving, without partial-order reduction')
  .option('--on <backend>', 'run the test on a real machine (lapis backends) and judge what it did by the model')
  .option('--runs <n>', 'with --on: runs (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--emit-asm <dir>', 'with --on: write the generated NASM source to DIR')
  .action(async (files: string[], o: { profile: string; json?: boolean; trace?: boolean; traceJson?: boolean; maxStates?: number; maxDepth?: number; timeout?: number; random?: number; seed: number; first?: boolean; por: boolean; on?: string; runs?: number; jobs?: number; emitAsm?: string }) => {
    if (o.on !== undefined) {
      process.exitCode = await runOn(files, { on: o.on, runs: o.runs, jobs: o.jobs, emitAsm: o.emitAsm, profile: o.profile, json: o.json }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    const profile = profileOrThrow(o.profile);
    let code = 0;
    for (const file of files) {
      const t = loadTest(file);
      if ('errors' in t) {
        for (const e of t.errors) console.error(e);
        code = 2;
        continue;
      }
      const progress = progressLine(t.test.name);
      const r = runTest(t.test, profile, {
        maxStates: o.maxStates, maxDepth: o.maxDepth, timeoutMs: o.timeout !== undefined ? o.timeout * 1000 : undefined,
        random: o.random !== undefined ? { runs: o.random, seed: o.seed } : undefined, progress: progress.update,
        stopWhenDecided: o.first ?? false, por: o.por,
      });
      progress.done();
      printRun(r, { json: o.json ?? false, trace: o.trace ?? false, traceJson: o.traceJson ?? false }, (s) => console.log(s));
      if (!r.answer.ok && code === 0) code = 1;
      if (files.length > 1 && !o.json) console.log('');
    }
    process.exitCode = code;
  });

program
  .command('check')
  .description('parse and validate litmus tests only')
  .argument('<files...>')
  .action((files: string[]) => {
    let code = 0;
    for (const file of files) {
      const t = loadTest(file);
      if ('errors' in t) {
        for (const e of t.errors) console.error(e);
        code = 2;
      } else console.log(`${file}: ok (${t.test.name})`);
    }
    process.exitCode = code;
  });

program
  .command('suite')
  .description('run every test in a directory under each profile its expectations name; a table of expected vs got')
  .argument('<dir>')
  .option('--junit <file>', 'also write a JUnit XML report')
  .option('--profile <name>', 'only this profile')
  .option('--max-states <n>', 'per test', int('--max-states'))
  .option('--on <backend>', 'run every test on a real machine (lapis backends): refused or run, each outcome judged by the model')
  .action(async (dir: string, o: { junit?: string; profile?: string; maxStates?: number; on?: string }) => {
    if (o.on !== undefined) {
      process.exitCode = await suiteOn(dir, { on: o.on, junit: o.junit, profile: o.profile }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    process.exitCode = runSuite(dir, o, (s) => console.log(s));
  });

program
  .command('backends')
  .description('the real machines a litmus test can run on: available here or not (and why), and their features')
  .action(() => {
    for (const b of BACKENDS) {
      const a = b.available();
      console.log(`${b.name.padEnd(15)} ${a.ok ? 'available' : `unavailable: ${a.reason}`}`);
      console.log(`  ${b.description}`);
      if (!a.ok) continue;
      for (const [feature, s] of Object.entries(b.features())) console.log(`  ${feature}: ${s.ok ? 'yes' : `no (${s.reason})`}`);
    }
  });

program
  .command('profiles')
  .description('list the profiles and how each differs from the architecture')
  .action(() => {
    for (const p of PROFILES) {
      console.log(`${p.name}: ${p.description}`);
      for (const d of p.deviations) console.log(`  - ${d.quirk}: ${d.behaviour}\n      evidence: ${d.evidence}`);
      if (p.deviations.length === 0) console.log('  (no deviations)');
    }
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`lapis: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});
