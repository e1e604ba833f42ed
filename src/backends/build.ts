// Assembling a guest: a NASM source that includes guest/runtime.asm becomes a raw hard-disk image that QEMU and
// Bochs both boot (docs/conformance.md). nasm is run with an argument array, never through a shell.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './backends.js';
import { MAX_STAGE2_BYTES } from './guest-abi.js';

export { MAX_STAGE2_BYTES };

/** The guest framework's directory (guest/ at the package root: ../../guest from src/backends and dist/backends). */
export const GUEST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../guest');

/** One cylinder of 16 heads x 63 sectors: Bochs derives a flat image's geometry from its size, in cylinders. */
export const IMAGE_BYTES = 16 * 63 * 512;

export interface BuildOptions {
  /** The guest's NASM source. */
  source: string;
  /** Where the image goes. */
  out: string;
  /** -D defines: `NAME` or `NAME=VALUE`. */
  defines?: string[];
}

export class GuestBuildError extends Error {
  override name = 'GuestBuildError';
}

export function nasmBinary(): string | null {
  return process.env.LAPIS_NASM ?? which('nasm');
}

/** Assemble `source` into a padded disk image at `out`; returns its path. Throws GuestBuildError with nasm's
 *  messages when the source does not assemble or stage 2 is too large. */
export function buildGuest(opts: BuildOptions): string {
  const nasm = nasmBinary();
  if (!nasm) throw new GuestBuildError('nasm not found (npm run setup installs it)');
  const bin = `${opts.out}.bin`;
  const args = ['-f', 'bin', '-I', `${GUEST_DIR}/`, '-I', `${dirname(resolve(opts.source))}/`];
  for (const d of opts.defines ?? []) args.push(`-D${d}`);
  args.push('-o', bin, opts.source);
  const r = spawnSync(nasm, args, { encoding: 'utf8' });
  if (r.error) throw new GuestBuildError(`nasm failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new GuestBuildError(`nasm ${opts.source}: ${(r.stderr || r.stdout).trim()}`);
  const code = readFileSync(bin);
  if (code.length - 512 > MAX_STAGE2_BYTES) {
    throw new GuestBuildError(`${opts.source}: stage 2 is ${code.length - 512} bytes, more than ${MAX_STAGE2_BYTES}`);
  }
  const image = Buffer.alloc(IMAGE_BYTES);
  code.copy(image);
  writeFileSync(opts.out, image);
  return opts.out;
}

/** A guest under guest/tests by name (`bringup` -> guest/tests/bringup.asm). */
export function guestTest(name: string): string {
  return join(GUEST_DIR, 'tests', `${name}.asm`);
}
