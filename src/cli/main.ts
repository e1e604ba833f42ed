#!/usr/bin/env node
// The lapis command line. Exit codes: 0 every answer as expected, 1 a mismatch, 2 a usage or parse error.
import { Command, InvalidArgumentError } from 'commander';
import { catalogDir, runSeeds } from './seeds.js';
import { conformanceCommand, type ConformanceOptions } from './conformance.js';
import { loadTest, printRun, profileOrThrow, runTest, UsageError } from './run.js';
import { PROFILES } from '../sim/profiles.js';
import { runSuite } from './suite.js';
import { progressLine } from './progress.js';
import { BACKENDS } from '../backends/backends.js';
import { runOn, seedsOn, suiteOn } from '../backends/cli.js';
import { nodeThreads } from './threads.js';

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

/** Options that only mean something with --on: a usage error without it. */
function onlyWithOn(o: object, names: string[]): void {
  const given = names.filter((n) => (o as Record<string, unknown>)[n] !== undefined);
  if (given.length > 0) throw new UsageError(`${given.map((n) => `--${n}`).join(', ')} only with --on BACKEND`);
}

program
  .command('seeds')
  .description("run the seed threads' scenarios on the model and print a table; with --on, on a real machine")
  .option('--trace', "print each scenario's trace")
  .option('--on <backend>', 'run each seed scenario on a real machine (lapis backends), judged like run --on')
  .option('--runs <n>', 'with --on: runs per scenario (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--json <file>', 'with --on: write the results as a suite report (schema lapis-suite/1)')
  .action(async (opts: { trace?: boolean; on?: string; runs?: number; jobs?: number; json?: string }) => {
    if (opts.on !== undefined) {
      process.exitCode = await seedsOn(catalogDir(), { on: opts.on, runs: opts.runs, jobs: opts.jobs, json: opts.json }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    onlyWithOn(opts, ['runs', 'jobs', 'json']);
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
  .option('--no-symmetry', 'do not treat interchangeable CPUs as one (docs/explorer.md, "Symmetry")')
  .option('--on <backend>', 'run the test on a real machine (lapis backends) and judge what it did by the model')
  .option('--runs <n>', 'with --on: runs (default 100)', int('--runs'))
  .option('--jobs <n>', 'threads searching at once (default 1; docs/explorer.md, "Parallel search"); with --on: boots at once', int('--jobs'))
  .option('--emit-asm <dir>', 'with --on: write the generated NASM source to DIR')
  .action(async (files: string[], o: { profile: string; json?: boolean; trace?: boolean; traceJson?: boolean; maxStates?: number; maxDepth?: number; timeout?: number; random?: number; seed: number; first?: boolean; por: boolean; symmetry: boolean; on?: string; runs?: number; jobs?: number; emitAsm?: string }) => {
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
        stopWhenDecided: o.first ?? false, por: o.por, symmetry: o.symmetry, jobs: o.jobs, threads: nodeThreads,
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
  .option('--runs <n>', 'with --on: runs per test (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--json <file>', "with --on: write every test's result (schema lapis-suite/1, docs/conformance.md)")
  .action(async (dir: string, o: { junit?: string; profile?: string; maxStates?: number; on?: string; runs?: number; jobs?: number; json?: string }) => {
    if (o.on !== undefined) {
      process.exitCode = await suiteOn(dir, { on: o.on, junit: o.junit, profile: o.profile, runs: o.runs, jobs: o.jobs, json: o.json }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    onlyWithOn(o, ['runs', 'jobs', 'json']);
    process.exitCode = runSuite(dir, o, (s) => console.log(s));
  });

program
  .command('conformance')
  .description('run the suite on backends (or read saved suite reports) and write CONFORMANCE.md')
  .option('--on <backends>', 'comma-separated backends to run the suite on (lapis backends)')
  .option('--from <files...>', 'saved suite reports (suite --on B --json FILE) to include, instead of or besides running')
  .option('--runs <n>', 'with --on: runs per test (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--dir <dir>', 'with --on or --rejudge: the test directory (default: the litmus catalog)')
  .option('--save <dir>', "with --on: write each backend's suite report to DIR/BACKEND.json")
  .option('--explanations <file>', 'the explanations of FORBIDDEN outcomes (default: conformance/explanations.json)')
  .option('--notes <file>', 'Markdown placed after the summary (default: conformance/notes.md when present)')
  .option('--out <file>', 'where to write (default: print it)')
  .option('--rejudge', 'judge the --from reports again by the model as it is now, and rewrite those files (the runs stay as they were)')
  .action(async (o: ConformanceOptions) => {
    process.exitCode = await conformanceCommand(o, (s) => console.log(s), (s) => console.error(s));
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
