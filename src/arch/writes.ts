// The one path that writes a machine's state words, and the log of those writes that the explorer's incremental
// hash reads (src/explore/hasher.ts): a step's hash is updated from the words it wrote, with no compare of the whole
// state. Every device, the simulator and the assist layer write state words only through `put` and `putFill`
// (lint enforces it: eslint.config.js, "state writes"); a write that bypassed them would leave the hash stale and
// merge two states, which the explorer's `checkWrites` mode (a full compare after every step, used by the catalog
// and fuzz tests) reports.

/** A log of the indices written to one state array. At most one log notes writes at a time (the active one). */
export class WriteLog {
  /** The indices of the words changed since `start` (a write of the value a word has is not noted), in order, with
   *  repeats; `n` of them. */
  readonly at: Int32Array;
  n = 0;
  /** More writes than `at` holds: the indices are incomplete, and the reader must compare the whole state. */
  overflow = false;

  constructor(readonly state: Uint32Array, capacity = 512) {
    this.at = new Int32Array(capacity);
  }

  /** Note the writes to `state` from now on, from none (and stop any other log). */
  start(): void {
    this.n = 0;
    this.overflow = false;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the one active log is this one
    active = this;
  }

  /** Every write since `start` is in `at`: this log is still the active one and has not overflowed. */
  complete(): boolean {
    return active === this && !this.overflow;
  }

  /** Stop noting writes (if this log is the active one). */
  stop(): void {
    if (active === this) active = null;
  }
}

let active: WriteLog | null = null;

/** s[i] = v. A write that leaves the word as it was is not noted: the hash looks for words that changed. */
export function put(s: Uint32Array, i: number, v: number): void {
  if (s[i] === v >>> 0) return;
  s[i] = v;
  const log = active;
  if (log !== null && log.state === s) {
    if (log.n < log.at.length) log.at[log.n++] = i;
    else log.overflow = true;
  }
}

/** Every word of `s` may have been written (a whole state put back): its log, if active, is incomplete. */
export function putAll(s: Uint32Array, from: Uint32Array): void {
  s.set(from);
  if (active !== null && active.state === s) active.overflow = true;
}

/** s.fill(v, from, to). */
export function putFill(s: Uint32Array, v: number, from: number, to: number): void {
  const log = active;
  if (log !== null && log.state === s) {
    const w = v >>> 0;
    for (let i = from; i < to; i++) {
      if (s[i] === w) continue;
      if (log.n < log.at.length) log.at[log.n++] = i;
      else log.overflow = true;
    }
  }
  s.fill(v, from, to);
}
