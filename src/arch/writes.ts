// The one path that writes a machine's state words, and the log of those writes that the explorer reads: a step's
// hash is updated from the words it wrote (src/explore/hasher.ts), and the step is undone by writing back the values
// they had, so that the explorer keeps no copy of a state to return to it. Every device, the simulator and the
// assist layer write state words only through `put`, `putFill` and `putAll` (lint enforces it: eslint.config.js,
// "state writes"); a write that bypassed them would leave the hash stale and merge two states, and the undo wrong,
// which the explorer's `checkWrites` mode (a full compare after every step, used by the catalog and fuzz tests)
// reports.

/** A log of the words written to one state array and the values they had. At most one log notes writes at a time
 *  (the active one); while it is active it holds every change (it grows as it must). */
export class WriteLog {
  /** The indices of the words changed since `start` (a write of the value a word has is not noted), in order, with
   *  repeats; `n` of them. */
  at: Int32Array;
  /** The value each of those words had just before that write (as a signed word). */
  old: Int32Array;
  n = 0;

  constructor(readonly state: Uint32Array, capacity = 64) {
    this.at = new Int32Array(capacity);
    this.old = new Int32Array(capacity);
  }

  /** Note the writes to `state` from now on, from none (and stop any other log). */
  start(): void {
    this.n = 0;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the one active log is this one
    active = this;
  }

  /** Every change since `start` is in the log: it is still the active one. */
  complete(): boolean {
    return active === this;
  }

  /** Stop noting writes (if this log is the active one). */
  stop(): void {
    if (active === this) active = null;
  }

  /** Write back, newest first, the value every noted word had: the state as it was at `start`. */
  undo(into: Int32Array | Uint32Array = this.state): void {
    const at = this.at, old = this.old;
    for (let j = this.n - 1; j >= 0; j--) into[at[j]] = old[j];
  }

  /** Note that word i, which had value v, is being changed. */
  note(i: number, v: number): void {
    const n = this.n;
    if (n === this.at.length) this.grow();
    this.at[n] = i;
    this.old[n] = v;
    this.n = n + 1;
  }

  private grow(): void {
    const at = new Int32Array(2 * this.n), old = new Int32Array(2 * this.n);
    at.set(this.at);
    old.set(this.old);
    this.at = at;
    this.old = old;
  }
}

let active: WriteLog | null = null;

/** s[i] = v. A write that leaves the word as it was is not noted: the hash looks for words that changed. */
export function put(s: Uint32Array, i: number, v: number): void {
  const was = s[i];
  if (was === v >>> 0) return;
  const log = active;
  if (log !== null && log.state === s) log.note(i, was);
  s[i] = v;
}

/** s.set(from): a whole state put back. Its log, if active, notes every word that changes. */
export function putAll(s: Uint32Array, from: Uint32Array): void {
  const log = active;
  if (log !== null && log.state === s) {
    for (let i = 0; i < from.length; i++) if (s[i] !== from[i]) log.note(i, s[i]);
  }
  s.set(from);
}

/** s.fill(v, from, to). */
export function putFill(s: Uint32Array, v: number, from: number, to: number): void {
  const log = active;
  if (log !== null && log.state === s) {
    const w = v >>> 0;
    for (let i = from; i < to; i++) if (s[i] !== w) log.note(i, s[i]);
  }
  s.fill(v, from, to);
}
