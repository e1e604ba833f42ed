// The package as a user gets it: `npm pack` of the working tree (a copy, as a clean clone: prepack builds dist/),
// installed offline into a temporary project, then used from Node ESM, CommonJS require, a TypeScript consumer
// with isolatedModules, the `lapis` command, and bundled for the browser with esbuild.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { CLI_GUARD_MS } from '../helpers/lapis.js';

const REPO = resolve('.');
let tmp = '';
let consumer = '';

function run(file: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(file, args, { cwd, encoding: 'utf8', timeout: CLI_GUARD_MS, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return r;
}

function ok(file: string, args: string[], cwd: string): string {
  const r = run(file, args, cwd);
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const SEED = 'seed-000-sipi-during-smm';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lapis-pack-'));
  // The working tree's files as a clone has them (tracked and new, never ignored ones such as dist/).
  const copy = join(tmp, 'clone');
  for (const f of ok('git', ['ls-files', '-co', '--exclude-standard', '-z'], REPO).split('\0')) {
    if (f === '' || !existsSync(join(REPO, f))) continue;
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(copy, f));
  }
  symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  const packed = JSON.parse(ok(npm, ['pack', '--json', '--pack-destination', tmp], copy)) as { filename: string }[];
  // commander, lapis's one dependency, packed from the installed copy: the install needs no network at all.
  const commander = JSON.parse(ok(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp, join(REPO, 'node_modules/commander')], tmp)) as { filename: string }[];
  consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  ok(npm, ['install', '--offline', '--no-audit', '--no-fund', join(tmp, packed[0].filename), join(tmp, commander[0].filename)], consumer);
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships dist/, the catalog, the guest sources and the schemas, and no source maps or tests', () => {
    const root = join(consumer, 'node_modules/lapis');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/backends/index.js', 'dist/cli/main.js', `litmus/${SEED}.litmus`, 'litmus/expected.json', 'guest/litmus.asm', 'schemas/expected.schema.json', 'conformance/explanations.json']) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    const files = ok('find', ['.', '-type', 'f'], root).split('\n');
    expect(files.filter((f) => f.endsWith('.map') || f.includes('/test/') || f.startsWith('./src/'))).toEqual([]);
  });

  it('the lapis command: --version, and a catalog test by name answers as runLitmus does from Node ESM', () => {
    const bin = join(consumer, 'node_modules/.bin/lapis');
    expect(ok(bin, ['--version'], consumer).trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    const cli = JSON.parse(ok(bin, ['run', SEED, '--profile', 'kvm-2024', '--json', '--trace-json'], consumer)) as Record<string, unknown>;
    writeFileSync(join(consumer, 'esm.mjs'), `
      import { readFileSync } from 'node:fs';
      import { runLitmus, Activity, EventKind, StepKind, parseLitmus, printTest } from 'lapis';
      const text = readFileSync(new URL('./node_modules/lapis/litmus/${SEED}.litmus', import.meta.url), 'utf8');
      const parsed = parseLitmus(text);
      const answer = runLitmus(text, { profile: 'kvm-2024', trace: true });
      console.log(JSON.stringify({ answer, activity: [Activity.ACTIVE, Activity.WAIT_FOR_SIPI], nmi: EventKind.NMI, time: StepKind.TIME, reprint: parseLitmus(printTest(parsed.test)).ok }));
    `);
    const esm = JSON.parse(ok(process.execPath, ['esm.mjs'], consumer)) as { answer: Record<string, unknown>; activity: number[]; nmi: number; time: number; reprint: boolean };
    expect({ ...esm.answer, ms: 0 }).toEqual({ ...cli, ms: 0 });
    expect(esm.answer).toMatchObject({ test: 'SIPI-during-SMM', profile: 'kvm-2024', complete: true });
    expect(esm.activity).toEqual([0, 3]);
    expect(typeof esm.nmi).toBe('number');
    expect(esm.time).toBe(3);
    expect(esm.reprint).toBe(true);
  });

  it('CommonJS require of lapis and lapis/backends (require of an ES module, Node 20.19+)', () => {
    writeFileSync(join(consumer, 'req.cjs'), `
      const lapis = require('lapis');
      const backends = require('lapis/backends');
      const a = lapis.runLitmus('lapis T\\nP0 {\\n  store x = 1\\n}\\nexists (x = 1)\\n');
      console.log(JSON.stringify({ result: a.result, active: lapis.Activity.ACTIVE, names: backends.BACKEND_NAMES }));
    `);
    const r = run(process.execPath, ['req.cjs'], consumer);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ result: 'Ok', active: 0, names: expect.arrayContaining(['qemu-tcg', 'bochs']) });
  });

  it('a TypeScript consumer with isolatedModules type-checks, without Node types', () => {
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', lib: ['ES2022'], module: 'nodenext', moduleResolution: 'nodenext', isolatedModules: true, verbatimModuleSyntax: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ['consumer.ts'],
    }));
    writeFileSync(join(consumer, 'consumer.ts'), `
      import { Activity, EventKind, Machine, runLitmus, LitmusError, type LitmusAnswer, type RunOptions, type LitmusTest } from 'lapis';
      const options: RunOptions = { profile: 'kvm-2019', maxStates: 1000, first: true };
      const a: LitmusAnswer = runLitmus('lapis T\\nP0 {\\n  store x = 1\\n}\\nexists (x = 1)\\n', options);
      const m = new Machine({ cpus: 2 });
      const act: Activity = m.cpus[1].activity();
      const parked: boolean = act === Activity.WAIT_FOR_SIPI;
      const kind: EventKind = EventKind.NMI;
      const e: LitmusError | null = null;
      const t: LitmusTest | null = null;
      export const out = [a.result, a.outcomes.length, parked, kind, e, t];
    `);
    const r = run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', consumer], consumer);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('bundles the explorer for the browser with esbuild: no node: import remains, and the bundle answers', async () => {
    writeFileSync(join(consumer, 'browser.mjs'), "export { runLitmus } from 'lapis';\n");
    const out = await build({ entryPoints: [join(consumer, 'browser.mjs')], absWorkingDir: consumer, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    const code = out.outputFiles[0].text;
    expect(code).not.toMatch(/["']node:/);
    expect(code).not.toMatch(/\brequire\(/);
    writeFileSync(join(consumer, 'bundle.mjs'), code);
    const { runLitmus } = (await import(join(consumer, 'bundle.mjs'))) as typeof import('../../src/index.js');
    expect(runLitmus(readFileSync(`litmus/${SEED}.litmus`, 'utf8')).result).toBe('Ok');
  });
});
