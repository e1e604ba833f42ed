#!/usr/bin/env node
// The lapis command line. Exit codes: src/cli/exit.ts (shown by --help).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runSeeds } from './seeds.js';
import { fingerprintCommand } from './fingerprint.js';
import { conformanceCommand, type ConformanceOptions } from './conformance.js';
import { loadTest, runModel, testFile, UsageError } from './run.js';
import { PROFILES } from '../sim/profiles.js';
import { ProfileSet, diffLines, formatProfile, quirkLines } from './profiles.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_STATES } from '../explore/run.js';
import { runSuite, type SuiteOptions } from './suite.js';
import { catalogDir, packageVersion } from './package.js';
import { BACKENDS } from '../backends/backends.js';
import { runOn, seedsOn, suiteOn } from '../backends/cli.js';
import { cleanUpAll } from '../backends/cleanup.js';
import { DEFAULT_SETTLE_US, MAX_SETTLE_US, MIN_SETTLE_US, SIPI_SETTLE_FACTOR, validSettleUs } from '../backends/compile.js';
import { Explorer } from './explorer.js';
import { EXIT, EXIT_HELP } from './exit.js';
import { thousands } from './output.js';
import { parseShard } from './shard.js';

import { registerView } from './view.js';
import { registerHtml } from './html.js';
import { registerKut } from './kut.js';
import { registerVmm } from './vmm.js';

// A reader that stops early (`lapis run X --json | head`) closes the pipe: that ends the output, it is not an error.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? EXIT.OK);
  });
}

const explorer = new Explorer();
/** Ctrl-C ends the search in flight, whose answer so far is printed before exit 130 (a search not yet started ends
 *  at once); on a real machine (--on) every emulator and temporary directory goes, and lapis exits at once. */
let onInterrupt: () => void = () => explorer.interrupt();
const exitNow = () => process.exit(EXIT.INTERRUPTED);
process.on('SIGINT', () => {
  cleanUpAll();
  const first = onInterrupt;
  onInterrupt = exitNow; // a second Ctrl-C does not wait
  first();
});

const program = new Command();
program.name('lapis').description('A model of the x86 interrupt architecture: local APIC, I/O APIC, INIT/SIPI/SMI/NMI, SMM')
  .version(packageVersion(), '-V, --version')
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  });

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

/** `--settle <µs>`: the guest's quiet time, checked before any boot (CompileOptions.settleUs). */
function settle(v: string): number {
  const n = Number(v);
  if (!validSettleUs(n)) throw new InvalidArgumentError(`--settle must be an integer from ${MIN_SETTLE_US} to ${MAX_SETTLE_US} (microseconds)`);
  return n;
}
const SETTLE_HELP = `with --on: the guest's quiet time in µs before a run ends (default ${DEFAULT_SETTLE_US}; ${SIPI_SETTLE_FACTOR} times as long after a SIPI, INIT, NMI or SMI); longer on a host that starves vCPUs (docs/conformance.md, "Quiet time")`;

function flag(name: string): string {
  return name === 'por' || name === 'symmetry' ? `--no-${name}` : `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Options given on the command line (not defaults) among `names`: a usage error `... WHY` when there are any. */
function refuse(cmd: Command, names: string[], why: string): void {
  const given = names.filter((n) => cmd.getOptionValueSource(n) === 'cli');
  if (given.length > 0) throw new UsageError(`${given.map(flag).join(', ')} ${why}`);
}

const ON_ONLY = 'only with --on BACKEND';

program
  .command('seeds')
  .description("run the seed threads' scenarios on the model and print a table; with --on, on a real machine")
  .option('--trace', "print each scenario's trace")
  .option('--on <backend>', 'run each seed scenario on a real machine (lapis backends), judged like run --on')
  .option('--runs <n>', 'with --on: runs per scenario (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--json <file>', 'with --on: write the results as a suite report (schema lapis-suite/1)')
  .option('--settle <us>', SETTLE_HELP, settle)
  .action(async (opts: { trace?: boolean; on?: string; runs?: number; jobs?: number; json?: string; settle?: number }, cmd: Command) => {
    if (opts.on !== undefined) {
      refuse(cmd, ['trace'], 'is for the model: not with --on');
      onInterrupt = exitNow;
      process.exitCode = await seedsOn(catalogDir(), { on: opts.on, runs: opts.runs, jobs: opts.jobs, json: opts.json, settleUs: opts.settle }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    refuse(cmd, ['runs', 'jobs', 'json', 'settle'], ON_ONLY);
    process.exitCode = runSeeds(opts.trace ?? false, (line) => console.log(line));
  });

interface RunCliOptions {
  profile?: string; profileFile?: string; json?: boolean; trace?: boolean; traceJson?: boolean; maxStates?: number; maxDepth?: number; timeout?: number; maxMemory?: number;
  random?: number; seed?: number; first?: boolean; por: boolean; symmetry: boolean; progress?: boolean; on?: string; runs?: number; jobs?: number; emitAsm?: string;
  settle?: number;
}

program
  .command('run')
  .description('explore every interleaving of litmus tests on the model and answer their conditions')
  .argument('<tests...>', 'litmus files, or names of catalog tests (lapis list)')
  .option('--profile <name>', 'spec, or a named implementation (lapis profiles); default spec, or the --profile-file one')
  .option('--profile-file <file>', 'a profile as data: a base profile and quirks (docs/profiles.md, "Your own profile")')
  .option('--json', 'one JSON object per test (the answer runLitmus returns)')
  .option('--trace', 'print the shortest run to each outcome (counterexamples first), a column per CPU')
  .option('--trace-json', 'the traces as typed records (schemas/trace.schema.json)')
  .option('--max-states <n>', `stop after this many distinct states (default ${thousands(DEFAULT_MAX_STATES)})`, int('--max-states'))
  .option('--max-depth <n>', `do not follow runs longer than this (default ${thousands(DEFAULT_MAX_DEPTH)})`, int('--max-depth'))
  .option('--timeout <seconds>', 'stop after this long', int('--timeout'))
  .option('--max-memory <MB>', 'stop before the search holds more than this (visited set, DFS stack)', int('--max-memory'))
  .option('--random <runs>', 'random runs instead of exhaustive search', int('--random'))
  .option('--seed <n>', 'with --random: the seed (default 1)', int('--seed'))
  .option('--first', 'stop at the first run that decides the answer (a witness or a counterexample)')
  .option('--no-por', 'explore every interleaving, without partial-order reduction')
  .option('--no-symmetry', 'do not treat interchangeable CPUs as one (docs/explorer.md, "Symmetry")')
  .option('--progress', 'show progress on stderr even off a terminal or with --json (a line every 2 s)')
  .option('--on <backend>', 'run the test on a real machine (lapis backends) and judge what it did by the model')
  .option('--runs <n>', 'with --on: runs (default 100)', int('--runs'))
  .option('--jobs <n>', 'threads searching at once (default 1; docs/explorer.md, "Parallel search"); with --on: boots at once', int('--jobs'))
  .option('--emit-asm <dir>', 'with --on: write the generated NASM source to DIR')
  .option('--settle <us>', SETTLE_HELP, settle)
  .action(async (args: string[], o: RunCliOptions, cmd: Command) => {
    const profiles = new ProfileSet(o.profileFile);
    if (o.on !== undefined) {
      refuse(cmd, ['trace', 'traceJson', 'maxStates', 'maxDepth', 'timeout', 'maxMemory', 'random', 'seed', 'first', 'por', 'symmetry', 'progress'], 'is for the model: not with --on');
      const files = args.map(testFile);
      onInterrupt = exitNow;
      process.exitCode = await runOn(files, { on: o.on, runs: o.runs, jobs: o.jobs, emitAsm: o.emitAsm, profile: profiles.chosen(o.profile), json: o.json, settleUs: o.settle }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    refuse(cmd, ['runs', 'emitAsm', 'settle'], ON_ONLY);
    if (o.random === undefined) refuse(cmd, ['seed'], 'only with --random');
    else refuse(cmd, ['first', 'maxStates', 'por', 'symmetry', 'jobs'], 'does not apply to --random (random runs, not a search)');
    if (o.trace && o.json) throw new UsageError('--trace prints text: with --json, use --trace-json');
    const profile = profiles.chosen(o.profile);
    const files = args.map(testFile);
    process.exitCode = await runModel(files, profile, {
      json: o.json ?? false, trace: o.trace ?? false, traceJson: o.traceJson ?? false, progress: o.progress ?? false,
      limits: {
        maxStates: o.maxStates, maxDepth: o.maxDepth, timeoutMs: o.timeout !== undefined ? o.timeout * 1000 : undefined,
        maxMemory: o.maxMemory !== undefined ? o.maxMemory * 2 ** 20 : undefined,
        random: o.random !== undefined ? { runs: o.random, seed: o.seed ?? 1 } : undefined, first: o.first ?? false, por: o.por,
        symmetry: o.symmetry, jobs: o.jobs,
      },
    }, explorer, (s) => console.log(s), (s) => console.error(s));
  });

program
  .command('check')
  .description('parse and validate litmus tests only')
  .argument('<tests...>', 'litmus files, or names of catalog tests (lapis list)')
  .action((args: string[]) => {
    const files = args.map(testFile);
    let code = 0;
    for (const file of files) {
      const t = loadTest(file);
      if ('errors' in t) {
        for (const e of t.errors) console.error(e);
        code = EXIT.USAGE;
      } else console.log(`${file}: ok (${t.test.name})`);
    }
    process.exitCode = code;
  });

program
  .command('suite')
  .description('run every test in a directory under each profile its expectations name; a table of expected vs got')
  .argument('[dir]', 'a directory of litmus tests with expected.json (default: the catalog)')
  .option('--junit <file>', 'also write a JUnit XML report')
  .option('--profile <name>', 'only this profile')
  .option('--profile-file <file>', 'a profile as data, which expected.json may name (with --on: judge by it)')
  .option('--max-states <n>', `per test (default ${thousands(DEFAULT_MAX_STATES)})`, int('--max-states'))
  .option('--failures-only', 'print only the tests that failed')
  .option('--progress', 'with the model: show progress on stderr even off a terminal (a line every 2 s)')
  .option('--shard <i/n>', 'only the i-th of n slices of the files (for a CI matrix)')
  .option('--on <backend>', 'run every test on a real machine (lapis backends): refused or run, each outcome judged by the model')
  .option('--runs <n>', 'with --on: runs per test (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--json <file>', "with --on: write every test's result (schema lapis-suite/1, docs/conformance.md)")
  .option('--settle <us>', SETTLE_HELP, settle)
  .action(async (dirArg: string | undefined, o: Omit<SuiteOptions, 'shard'> & { shard?: string; profileFile?: string; on?: string; runs?: number; jobs?: number; json?: string; settle?: number }, cmd: Command) => {
    const dir = dirArg ?? catalogDir();
    const profiles = new ProfileSet(o.profileFile);
    const shard = o.shard !== undefined ? parseShard(o.shard) : undefined;
    if (o.on !== undefined) {
      refuse(cmd, ['maxStates', 'progress'], 'is for the model: not with --on');
      onInterrupt = exitNow;
      process.exitCode = await suiteOn(dir, { on: o.on, junit: o.junit, profile: profiles.chosen(o.profile), runs: o.runs, jobs: o.jobs, json: o.json, failuresOnly: o.failuresOnly, shard, settleUs: o.settle }, (s) => console.log(s), (s) => console.error(s));
      return;
    }
    refuse(cmd, ['runs', 'jobs', 'json', 'settle'], ON_ONLY);
    if (o.profile !== undefined) profiles.get(o.profile);
    process.exitCode = await runSuite(dir, { ...o, shard }, (name) => profiles.get(name), explorer, (s) => console.log(s), (s) => console.error(s));
  });

program
  .command('conformance')
  .description('run the suite on backends (or read saved suite reports) and write CONFORMANCE.md')
  .option('--on <backends>', 'comma-separated backends to run the suite on (lapis backends)')
  .option('--from <files...>', 'saved suite reports (suite --on B --json FILE) to include, instead of or besides running; shards merge, other hosts get their own columns')
  .option('--runs <n>', 'with --on: runs per test (default 100)', int('--runs'))
  .option('--jobs <n>', 'with --on: boots at once (default 1)', int('--jobs'))
  .option('--dir <dir>', 'with --on or --rejudge: the test directory (default: the litmus catalog)')
  .option('--save <dir>', "with --on: write each backend's suite report to DIR/BACKEND.json (DIR/BACKEND.I-of-N.json for a shard)")
  .option('--shard <i/n>', 'with --on: only the i-th of n slices of the tests (merge the reports with --from)')
  .option('--settle <us>', SETTLE_HELP, settle)
  .option('--explanations <file>', 'the explanations of FORBIDDEN outcomes (default: conformance/explanations.json)')
  .option('--notes <file>', 'Markdown placed after the summary (default: conformance/notes.md when present)')
  .option('--out <file>', 'where to write (default: print it)')
  .option('--rejudge', 'judge the --from reports again by the model as it is now, and rewrite those files (the runs stay as they were)')
  .action(async (o: ConformanceOptions) => {
    onInterrupt = exitNow;
    process.exitCode = await conformanceCommand(o, (s) => console.log(s), (s) => console.error(s));
  });

program
  .command('fingerprint')
  .description('the profile and quirk set that best explain a conformance report (suite --on B --json FILE), and what no quirk explains')
  .argument('<report>', 'a suite report, schema lapis-suite/1')
  .option('--dir <dir>', "where the report's litmus tests are now (default: the catalog)")
  .option('--profile-file <file>', 'also rank this profile')
  .action((file: string, o: { dir?: string; profileFile?: string }) => {
    process.exitCode = fingerprintCommand(file, o.dir ?? catalogDir(), new ProfileSet(o.profileFile).extra, (s) => console.log(s));
  });

program
  .command('list')
  .description('the catalog of litmus tests shipped with lapis: run one by its name (lapis run NAME)')
  .action(() => {
    for (const f of readdirSync(catalogDir()).filter((x) => x.endsWith('.litmus')).sort()) {
      const t = loadTest(join(catalogDir(), f));
      console.log(`${f.replace(/\.litmus$/, '').padEnd(48)} ${'test' in t ? (t.test.description ?? t.test.name) : '(does not parse)'}`);
    }
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
      for (const [feature, s] of Object.entries(b.features())) {
        // Features are Support, except a value such as ioapicVersion: printed as it is.
        const text = typeof s === 'object' ? (s.ok ? 'yes' : `no (${s.reason})`) : typeof s === 'number' ? `0x${s.toString(16)}` : String(s);
        console.log(`  ${feature}: ${text}`);
      }
    }
  });

program
  .command('profiles')
  .description('list the profiles and how each differs from the architecture, with evidence')
  .option('--profile-file <file>', 'also show this profile file (checked)')
  .option('--diff <profiles...>', 'where B differs from A, quirk by quirk (A and B: names or profile files)')
  .option('--quirks', 'every quirk, its values and the profiles that set it')
  .action((o: { profileFile?: string; diff?: string[]; quirks?: boolean }) => {
    if (o.diff !== undefined) {
      if (o.diff.length !== 2) throw new UsageError('--diff takes two profiles: A B');
      for (const line of diffLines(o.diff[0], o.diff[1])) console.log(line);
      return;
    }
    if (o.quirks) {
      for (const line of quirkLines()) console.log(line);
      return;
    }
    const extra = new ProfileSet(o.profileFile).extra;
    for (const p of [...PROFILES, ...(extra ? [extra] : [])]) for (const line of formatProfile(p)) console.log(line);
  });

registerView(program);
registerHtml(program);
registerKut(program);
for (const c of [program, ...program.commands]) c.addHelpText('after', EXIT_HELP);
registerVmm(program); // after the shared exit codes: a VMM's status is the guest's or its own (src/cli/vmm.ts)

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`lapis: ${e.message}`);
    process.exitCode = EXIT.USAGE;
  } else {
    console.error(`lapis: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = EXIT.INTERNAL;
  }
} finally {
  await explorer.close();
}
if (explorer.interrupted) process.exitCode = EXIT.INTERRUPTED;
