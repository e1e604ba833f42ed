// Exit codes, usage errors and what the command line prints on and off a terminal (src/cli/exit.ts, output.ts).
// A terminal is a pseudo-terminal from script(1), as a user at a shell has one.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_GUARD_MS, lapisWith, MAIN } from '../helpers/lapis.js';


const lapis = (args: string[], env: Record<string, string> = {}) => lapisWith({ env }, ...args);

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** Run lapis on a pseudo-terminal (stdout and stderr both go to it); the exit code and everything it showed. */
function onTty(args: string[], env: Record<string, string> = {}): { code: number; screen: string } {
  const r = spawnSync('script', ['-qefc', [process.execPath, MAIN, ...args].map(quote).join(' '), '/dev/null'], { encoding: 'utf8', timeout: CLI_GUARD_MS, env: { ...process.env, TERM: 'xterm', ...env } });
  return { code: r.status ?? -1, screen: r.stdout };
}

const OK = 'litmus/seed-000-sipi-during-smm.litmus';
const NO = ['litmus/seed-003-apic-id-in-smm.litmus', '--profile', 'kvm-2015'] as const;
const X2APIC = 'litmus/init-keeps-x2apic-mode.litmus';
const COLOUR = /\x1b\[(3\d|2)m/;

describe('exit codes', () => {
  it('0 Ok, 1 No, 3 cut short, 4 Unsupported (an answer, in JSON too), 2 a parse error', () => {
    expect(lapis(['run', OK]).code).toBe(0);
    expect(lapis(['run', ...NO]).code).toBe(1);
    expect(lapis(['run', 'litmus/bringup-4.litmus', '--max-states', '20', '--no-por']).code).toBe(3);
    const u = lapis(['run', X2APIC, '--profile', 'qemu-tcg-7.2', '--json']);
    expect(u.code).toBe(4);
    expect(JSON.parse(u.out)).toMatchObject({ result: 'Unsupported', ok: false, complete: false });
    const dir = mkdtempSync(join(tmpdir(), 'lapis-exit-'));
    try {
      writeFileSync(join(dir, 'bad.litmus'), 'lapis X\nP0 {\n  frob\n}\nexists (x = 1)\n');
      const r = lapis(['run', join(dir, 'bad.litmus'), OK]);
      expect(r.code).toBe(2);
      expect(r.out).toMatch(/^Ok$/m); // the other test still ran
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('with several answers: a No outranks a cut-short search, which outranks Unsupported', () => {
    expect(lapis(['run', OK, ...NO, 'litmus/bringup-4.litmus', '--max-states', '20']).code).toBe(1);
    expect(lapis(['run', X2APIC, 'litmus/bringup-4.litmus', '--max-states', '20', '--no-por', '--profile', 'qemu-tcg-7.2']).code).toBe(3);
    expect(lapis(['run', X2APIC, OK, '--profile', 'qemu-tcg-7.2']).code).toBe(4);
  });

  it('a test a profile cannot run is a row of suite, not the end of it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lapis-exit-'));
    try {
      copyFileSync(X2APIC, join(dir, 'a.litmus'));
      copyFileSync(OK, join(dir, 'b.litmus'));
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { 'qemu-tcg-7.2': 'Ok' }, 'b.litmus': { 'qemu-tcg-7.2': 'Ok' } }));
      const r = lapis(['suite', dir]);
      expect(r.out).toMatch(/INIT-keeps-x2APIC\s+qemu-tcg-7.2\s+Ok\s+Unsupported\s.*MISMATCH/);
      expect(r.out).toMatch(/SIPI-during-SMM\s+qemu-tcg-7.2\s+Ok\s+Ok/);
      expect(r.code).toBe(1);
      const only = lapis(['suite', dir, '--failures-only']);
      expect(only.out).not.toContain('SIPI-during-SMM');
      expect(only.out).toContain('INIT-keeps-x2APIC');
      expect(only.out).toContain('1 passed, 1 failed');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('usage errors: one line, exit 2, no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown profile', ['run', OK, '--profile', 'nope'], /^lapis: unknown profile 'nope'; profiles: spec, /],
    ['a missing file', ['run', 'no-such-test'], /^lapis: no-such-test: no such file, and no catalog test of that name/],
    ['a directory for a file', ['run', 'litmus'], /^lapis: litmus: is a directory, not a litmus file/],
    ['a file for a directory', ['suite', OK], /^lapis: .*: not a directory/],
    ['a missing directory', ['suite', 'no-such-dir'], /^lapis: no-such-dir: no such directory/],
    ['--runs without --on', ['run', OK, '--runs', '5'], /^lapis: --runs only with --on BACKEND/],
    ['--trace with --on', ['run', OK, '--on', 'qemu-tcg', '--trace'], /^lapis: --trace is for the model: not with --on/],
    ['--no-por with --on', ['run', OK, '--on', 'qemu-tcg', '--no-por'], /^lapis: --no-por is for the model: not with --on/],
    ['--seed without --random', ['run', OK, '--seed', '3'], /^lapis: --seed only with --random/],
    ['--first with --random', ['run', OK, '--random', '5', '--first'], /^lapis: --first does not apply to --random/],
    ['--jobs with --random', ['run', OK, '--random', '5', '--jobs', '2'], /^lapis: --jobs does not apply to --random/],
    ['--no-symmetry with --on', ['run', OK, '--on', 'qemu-tcg', '--no-symmetry'], /^lapis: --no-symmetry is for the model: not with --on/],
    ['--trace with --json', ['run', OK, '--trace', '--json'], /^lapis: --trace prints text: with --json, use --trace-json/],
    ['suite --json without --on', ['suite', 'litmus', '--json', 'x.json'], /^lapis: --json only with --on BACKEND/],
    ['suite --max-states with --on', ['suite', 'litmus', '--on', 'qemu-tcg', '--max-states', '9'], /^lapis: --max-states is for the model: not with --on/],
    ['seeds --trace with --on', ['seeds', '--on', 'qemu-tcg', '--trace'], /^lapis: --trace is for the model: not with --on/],
    ['--settle without --on', ['suite', 'litmus', '--settle', '5000'], /^lapis: --settle only with --on BACKEND/],
    ['run --settle without --on', ['run', OK, '--settle', '5000'], /^lapis: --settle only with --on BACKEND/],
    ['a --settle out of range', ['run', OK, '--on', 'qemu-tcg', '--settle', '99'], /--settle must be an integer from 100 to 100000 \(microseconds\)/],
    ['a bad --shard', ['suite', 'litmus', '--shard', '3/2'], /^lapis: --shard 3\/2: expected I\/N/],
  ];
  it.each(cases)('%s', (_, args, message) => {
    const r = lapis(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
  });

  it('--help documents the exit codes and the default state limit', () => {
    const r = lapis(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--max-states <n>\s+stop after this many distinct\s+states\s+\(default\s+5,000,000\)/);
    for (const line of [/^ {2}0 +every answer as asked/m, /^ {2}1 +an answer is No/m, /^ {2}2 +a usage or parse error/m, /^ {2}3 +a search was cut short/m, /^ {2}4 +a test the profile cannot run/m, /^ {2}130 +interrupted/m]) {
      expect(r.out).toMatch(line);
    }
    expect(lapis(['--help']).out).toContain('Exit codes:');
  });
});

describe('on and off a terminal', () => {
  const long = ['run', 'litmus/bringup-4.litmus', '--no-por', '--max-states', '60000'];

  it('off a terminal: no progress, no colour', () => {
    const r = lapis(long);
    expect(r.err).toBe('');
    expect(r.out).not.toMatch(COLOUR);
    expect(lapis(['suite', 'litmus', '--profile', 'spec', '--shard', '1/20']).out).not.toMatch(COLOUR);
  });

  it('on a terminal: a progress line (states, states/s, depth, elapsed) and a coloured answer; NO_COLOR turns colour off', () => {
    const r = onTty(long);
    expect(r.code).toBe(3);
    expect(r.screen).toMatch(/bringup-4: [\d,]+ states, [\d,]+ states\/s, depth [\d,]+, \d+ s/);
    expect(r.screen).toMatch(/\x1b\[31mNo\x1b\[0m/);
    const plain = onTty(long, { NO_COLOR: '1' });
    expect(plain.screen).not.toMatch(COLOUR);
    expect(plain.screen).toMatch(/states\/s/);
  });

  it('on a terminal with --json: only the JSON', () => {
    const r = onTty([...long, '--json']);
    expect(r.screen).not.toMatch(/states\/s/);
    expect(JSON.parse(r.screen.trim())).toMatchObject({ test: 'bringup-4', complete: false });
  });

  it('suite on a terminal shows test i/N and the failures so far', () => {
    const r = onTty(['suite', 'litmus', '--profile', 'kvm-2019', '--shard', '1/4', '--max-states', '50000']);
    expect(r.screen).toMatch(/\[\d+\/\d+\] \S+ \(kvm-2019\), \d+ failed so far: [\d,]+ states/);
  });
});
