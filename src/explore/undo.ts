// The depth-first search's way back: for each open frame, the words the step into its state changed and the values
// they had before it (from the step's write log, src/arch/writes.ts), in stack order. Closing a frame writes them
// back, newest first, and the live state is its parent's again: a frame keeps no copy of its state (a few entries
// against the whole state, 1.9 KB at three CPUs and 8 KB at sixteen).

import type { WriteLog } from '../arch/writes.js';

export class UndoStack {
  private at = new Int32Array(1024);
  private old = new Int32Array(1024);
  /** Entries in use. */
  top = 0;

  /** Append the log's entries; where they start. */
  save(log: WriteLog): number {
    const from = this.top, n = log.n;
    if (from + n > this.at.length) this.grow(from + n);
    // A few entries: a loop, not a call into the runtime and a view.
    const at = this.at, old = this.old, lat = log.at, lold = log.old;
    for (let j = 0; j < n; j++) {
      at[from + j] = lat[j];
      old[from + j] = lold[j];
    }
    this.top = from + n;
    return from;
  }

  /** Write back into `live`, newest first, the values of the entries from `from` on, and drop them. */
  restore(live: Int32Array, from: number): void {
    this.rewind(live, from, this.top);
    this.top = from;
  }

  /** Write back into `into`, newest first, the values of the entries in [from, to), keeping them. */
  rewind(into: Int32Array, from: number, to: number): void {
    const at = this.at, old = this.old;
    for (let j = to - 1; j >= from; j--) into[at[j]] = old[j];
  }

  /** Bytes held. */
  bytes(): number {
    return this.at.byteLength + this.old.byteLength;
  }

  /** Bytes that saving `n` more entries would allocate (the old arrays live while they are copied). */
  growthBytes(n: number): number {
    return this.top + n > this.at.length ? 8 * capacityFor(this.top + n, this.at.length) : 0;
  }

  private grow(need: number): void {
    const cap = capacityFor(need, this.at.length), at = new Int32Array(cap), old = new Int32Array(cap);
    at.set(this.at.subarray(0, this.top));
    old.set(this.old.subarray(0, this.top));
    this.at = at;
    this.old = old;
  }
}

function capacityFor(need: number, cap: number): number {
  while (cap < need) cap *= 2;
  return cap;
}
