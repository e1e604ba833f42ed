// The built command line (dist/cli/main.js) run as a user runs it. spawnSync blocks the test's thread, so vitest's
// own time limit cannot end a CLI that never exits: every run here carries a guard that kills it and says so, so a
// hang is a failing test with a reason, never a stuck suite.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const MAIN = join(process.cwd(), 'dist/cli/main.js');
/** Only a guard against a CLI that never returns; far above any run's own limits, whatever the load. */
export const CLI_GUARD_MS = 600_000;

export interface Ran {
  code: number;
  out: string;
  err: string;
}

export interface RunOpts {
  env?: Record<string, string>;
  cwd?: string;
  timeout?: number;
}

export function lapisWith(opts: RunOpts, ...args: string[]): Ran {
  const timeout = opts.timeout ?? CLI_GUARD_MS;
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: opts.cwd, timeout, env: { ...process.env, ...opts.env } });
  const killed = r.signal !== null ? `\n[test guard] lapis ${args.join(' ')} did not exit: killed by ${r.signal} after ${timeout} ms` : '';
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + killed };
}

export const lapis = (...args: string[]): Ran => lapisWith({}, ...args);

/** stdout as JSON; when it is not JSON the failure carries the exit status and stderr, which say why. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON answer, matched field by field by the caller
export function jsonOut(r: { code: number | null; out: string; err: string }): any {
  try {
    return JSON.parse(r.out);
  } catch (e) {
    throw new Error(`lapis printed no JSON (${(e as Error).message}); status ${r.code}; stdout ${JSON.stringify(r.out.slice(0, 200))}; stderr:\n${r.err}`);
  }
}
