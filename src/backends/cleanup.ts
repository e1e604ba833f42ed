// What a run on a real machine leaves behind while it runs: emulator process groups and temporary directories.
// Each is registered while it exists, so that on Ctrl-C the command line can kill every group and remove every
// directory before it exits (an emulator in its own process group gets no SIGINT from the terminal).
import { rmSync } from 'node:fs';

const groups = new Set<number>();
const dirs = new Set<string>();

export function holdGroup(pid: number): void {
  groups.add(pid);
}

export function releaseGroup(pid: number): void {
  groups.delete(pid);
}

export function holdDir(dir: string): void {
  dirs.add(dir);
}

export function releaseDir(dir: string): void {
  dirs.delete(dir);
}

/** Kill every registered process group (SIGKILL) and remove every registered directory. Synchronous. */
export function cleanUpAll(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
