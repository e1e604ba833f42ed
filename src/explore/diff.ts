// Where a state differs from its parent's (hasher.ts keeps the hash up to date from those words). In WebAssembly
// SIMD where the host has it (every current browser and Node): 64 bytes compared per loop, a few times faster than
// a JavaScript loop over words; else that loop. The module, hand-assembled (one function, 176 bytes):
//   (func (export "diff") (param $a i32) (param $b i32) (param $end i32) (param $out i32) (result i32) (local $n i32)
//     (block (loop
//       (br_if 1 (i32.ge_u $a $end))
//       (if (v128.any_true (v128.or (v128.or (v128.or
//             (v128.xor (v128.load offset=0 $a) (v128.load offset=0 $b)) (v128.xor (v128.load offset=16 $a) ...))
//             (v128.xor ... offset=32 ...)) (v128.xor ... offset=48 ...)))
//         (then (i32.store $out $a) (local.set $out (+ $out 4)) (local.set $n (+ $n 1))))
//       (local.set $a (+ $a 64)) (local.set $b (+ $b 64)) (br 0)))
//     $n)
// with its memory exported. It writes the byte offset of each 64-byte chunk that differs.

/** The part of the host's WebAssembly API used here (the project's TypeScript library setting has no types for it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: WasmMemory; diff: (a: number, b: number, end: number, out: number) => number } };
};

const MODULE = 'AGFzbQEAAAABCQFgBH9/f38BfwMCAQAFAwEAAQcRAgZtZW1vcnkCAARkaWZmAAAKfwF9AQF/AkADQCAAIAJPDQEgAP0ABAAgAf0ABAD9USAA/QAEECAB/QAEEP1R/VAgAP0ABCAgAf0ABCD9Uf1QIAD9AAQwIAH9AAQw/VH9UP1TBEAgAyAANgIAIANBBGohAyAEQQFqIQQLIABBwABqIQAgAUHAAGohAQwACwsgBAs=';

let compiled: object | null | undefined;
function simd(): object | null {
  if (compiled === undefined) {
    try {
      const bytes = Uint8Array.from(atob(MODULE), (ch) => ch.charCodeAt(0));
      compiled = new WebAssembly.Module(bytes);
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
  /** Start words of the chunks that differ (from `chunks`). */
  readonly out: Int32Array;
  /** Whether the WebAssembly SIMD compare is in use (else the JavaScript loop). */
  readonly simd: boolean;
  private readonly mem: Int32Array | null = null;
  private readonly fn: ((a: number, b: number, end: number, out: number) => number) | null = null;
  /** Where the second state starts in the module's memory (the first at 0), past the whole of the first. */
  private readonly second: number;
  /** The `bId` of the second state copied there last (-1: none to keep). */
  private lastB = -1;

  /** Compares the first `words` words of two states of `length` words. */
  constructor(private readonly words: number, length: number, useSimd = true) {
    const padded = Math.ceil(words / CHUNK) * CHUNK, chunks = padded / CHUNK;
    this.second = Math.ceil(Math.max(length, padded) / CHUNK) * CHUNK;
    const mod = useSimd ? simd() : null;
    let inst: ReturnType<typeof instantiate> = null;
    if (mod) inst = instantiate(mod, 4 * (2 * this.second + chunks));
    this.simd = inst !== null;
    if (inst) {
      this.mem = new Int32Array(inst.memory.buffer);
      this.fn = inst.diff;
      this.out = this.mem.subarray(2 * this.second, 2 * this.second + chunks);
    } else this.out = new Int32Array(chunks);
  }

  /**
   * The chunks (CHUNK words from a multiple of CHUNK) where a and b may differ: their starts in `out`; how many.
   * `bId` names b's words (equal ids only for equal words; -1: unnamed): b is not copied again for the same id, as
   * the explorer compares a parent with each of its children in turn.
   */
  chunks(a: Int32Array, b: Int32Array, bId = -1): number {
    const n = this.words;
    if (this.fn) {
      const mem = this.mem!, second = this.second;
      mem.set(a, 0);
      if (bId < 0 || bId !== this.lastB) mem.set(b, second);
      this.lastB = bId;
      const k = this.fn(0, 4 * second, 4 * Math.ceil(n / CHUNK) * CHUNK, 4 * 2 * second);
      for (let j = 0; j < k; j++) this.out[j] >>>= 2;
      return k;
    }
    let k = 0;
    for (let i = nextDiff(a, b, 0, n); i < n; i = nextDiff(a, b, i - (i % CHUNK) + CHUNK, n)) this.out[k++] = i - (i % CHUNK);
    return k;
  }
}
