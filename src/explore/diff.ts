// Where a state differs from its parent's (hasher.ts keeps the hash up to date from those words). In WebAssembly
// SIMD where the host has it (every current browser and Node): 64 bytes compared per loop, a few times faster than
// a JavaScript loop over words, and each chunk that differs comes with a mask of its words that do; else a
// JavaScript loop. The module is assembled below from its opcodes (one function):
//   (func (export "diff") (param $a i32) (param $b i32) (param $end i32) (param $out i32) (result i32)
//     (local $n i32) (local $m i32)
//     (block (loop
//       (br_if 1 (i32.ge_u $a $end))
//       (local.set $m (i32.or (i32.or (i32x4.bitmask (i32x4.ne (v128.load offset=0 $a) (v128.load offset=0 $b)))
//                                     (i32.shl (i32x4.bitmask (i32x4.ne ... offset=16 ...)) 4))
//                             (i32.or (i32.shl (... offset=32 ...) 8) (i32.shl (... offset=48 ...) 12))))
//       (if $m (then (i32.store $out $a) (i32.store offset=4 $out $m) (local.set $out (+ $out 8)) (local.set $n (+ $n 1))))
//       (local.set $a (+ $a 64)) (local.set $b (+ $b 64)) (br 0)))
//     $n)
// with its memory exported. It writes, for each 64-byte chunk that differs, the chunk's byte offset and a mask with
// bit j set where its word j differs.

import { copyWords } from './copy.js';

/** The part of the host's WebAssembly API used here (the project's TypeScript library setting has no types for it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: WasmMemory; diff: (a: number, b: number, end: number, out: number) => number } };
};

/** Unsigned LEB128, as the binary format writes sizes and counts. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? byte : byte | 0x80);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

/** The function above, opcode by opcode (locals: 0 $a, 1 $b, 2 $end, 3 $out, 4 $n, 5 $m). */
function diffBody(): number[] {
  const get = (l: number): number[] => [0x20, l];
  const load = (local: number, offset: number): number[] => [...get(local), 0xfd, 0x00, 0x04, offset]; // v128.load align=16
  // i32x4.ne, i32x4.bitmask: 4 bits, one per word of the 16 bytes at `offset`.
  const lanes = (offset: number): number[] => [...load(0, offset), ...load(1, offset), 0xfd, 0x38, 0xfd, 0xa4, 0x01];
  const shifted = (offset: number, by: number): number[] => [...lanes(offset), 0x41, by, 0x74, 0x72]; // (i32.or acc (i32.shl x by))
  const add = (local: number, k: number[]): number[] => [...get(local), 0x41, ...k, 0x6a, 0x21, local]; // local += k
  const expr = [
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(0), ...get(2), 0x4f, 0x0d, 0x01, // br_if 1 (i32.ge_u $a $end)
    ...lanes(0), ...shifted(16, 4), ...shifted(32, 8), ...shifted(48, 12),
    0x22, 0x05, 0x04, 0x40, // local.tee $m, if
    ...get(3), ...get(0), 0x36, 0x02, 0x00, // i32.store $out $a
    ...get(3), ...get(5), 0x36, 0x02, 0x04, // i32.store offset=4 $out $m
    ...add(3, [0x08]), ...add(4, [0x01]),
    0x0b, // end if
    ...add(0, [0xc0, 0x00]), ...add(1, [0xc0, 0x00]), // 64 as a signed LEB128
    0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
    ...get(4), 0x0b,
  ];
  return [0x01, 0x02, 0x7f, ...expr]; // two i32 locals
}

function moduleBytes(): Uint8Array {
  const name = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const body = diffBody();
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f]), // (i32 i32 i32 i32) -> i32
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x01]), // one memory, at least one page
    ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('diff'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

let compiled: object | null | undefined;
function simd(): object | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** An instance of the module with at least `bytes` of memory, or null where the host refuses (memory, policy). */
function instantiate(mod: object, bytes: number): { memory: WasmMemory; diff: (a: number, b: number, end: number, out: number) => number } | null {
  try {
    const { memory, diff } = new WebAssembly.Instance(mod).exports;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    return { memory, diff };
  } catch {
    return null;
  }
}

/** The first index from i on where a and b differ, or n. */
export function nextDiff(a: Int32Array, b: Int32Array, i: number, n: number): number {
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Words per compared chunk (64 bytes: four 128-bit lanes). */
export const CHUNK = 16;

export class WordDiff {
  /** The indices of the words that differ (from `differ`), ascending. */
  readonly at: Int32Array;
  /** Whether the WebAssembly SIMD compare is in use (else the JavaScript loop). */
  readonly simd: boolean;
  private readonly mem: Int32Array | null = null;
  private readonly fn: ((a: number, b: number, end: number, out: number) => number) | null = null;
  /** Where the second state starts in the module's memory (the first at 0), past the whole of the first. */
  private readonly second: number;
  /** Where the module writes its (offset, mask) pairs, in words. */
  private readonly found: number;

  /** Compares the first `words` words of two states of `length` words. */
  constructor(private readonly words: number, length: number, useSimd = true) {
    const padded = Math.ceil(words / CHUNK) * CHUNK, chunks = padded / CHUNK;
    this.second = Math.ceil(Math.max(length, padded) / CHUNK) * CHUNK;
    this.found = 2 * this.second;
    this.at = new Int32Array(padded);
    const mod = useSimd ? simd() : null;
    let inst: ReturnType<typeof instantiate> = null;
    if (mod) inst = instantiate(mod, 4 * (this.found + 2 * chunks));
    this.simd = inst !== null;
    if (inst) {
      this.mem = new Int32Array(inst.memory.buffer);
      this.fn = inst.diff;
    }
  }

  /** The words among the first `words` where a and b differ: their indices in `at`; how many. */
  differ(a: Int32Array, b: Int32Array): number {
    const n = this.words, at = this.at;
    let k = 0;
    if (this.fn) {
      const mem = this.mem!, second = this.second, found = this.found;
      copyWords(mem, a, 0);
      copyWords(mem, b, second);
      const chunks = this.fn(0, 4 * second, 4 * Math.ceil(n / CHUNK) * CHUNK, 4 * found);
      for (let c = 0; c < chunks; c++) {
        const base = mem[found + 2 * c] >>> 2;
        for (let mask = mem[found + 2 * c + 1]; mask !== 0; mask &= mask - 1) {
          const i = base + 31 - Math.clz32(mask & -mask);
          if (i >= n) break;
          at[k++] = i;
        }
      }
      return k;
    }
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) at[k++] = i;
    return k;
  }
}
