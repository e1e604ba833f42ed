// The visited-state set: open addressing over 53-bit state hashes (hash compaction: a state is stored as its
// hash only, so two distinct states with equal hashes would be merged; with 53 bits the chance of any merge
// among 10^8 states is about 6e-4, documented in docs/explorer.md). Each slot also holds the state's Tarjan
// index while it is on the SCC stack (-1 once its SCC is complete). 12 bytes a slot at a load factor between
// 3/8 and 3/4 (linear probing), so 16 to 32 bytes per visited state.

export class VisitedSet {
  private keys: Float64Array;
  private tarjan: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacityPow2 = 1 << 10) {
    this.keys = new Float64Array(capacityPow2);
    this.tarjan = new Int32Array(capacityPow2);
    this.mask = capacityPow2 - 1;
  }

  /** Bytes used by the table. */
  bytes(): number {
    return this.keys.byteLength + this.tarjan.byteLength;
  }

  /** Bytes the next add allocates when it grows the table (the table doubles), else 0. */
  growthBytes(): number {
    return (this.size + 1) * 4 > this.keys.length * 3 ? 2 * this.bytes() : 0;
  }

  private slot(h: number): number {
    const key = h + 1; // 0 marks an empty slot
    let i = (h ^ (h / 0x100000000)) & this.mask;
    for (;;) {
      const k = this.keys[i];
      if (k === 0 || k === key) return i;
      i = (i + 1) & this.mask;
    }
  }

  has(h: number): boolean {
    return this.keys[this.slot(h)] !== 0;
  }

  /** Add h with a Tarjan index; returns false if it was already there. */
  add(h: number, index: number): boolean {
    const i = this.slot(h);
    if (this.keys[i] !== 0) return false;
    this.keys[i] = h + 1;
    this.tarjan[i] = index;
    if (++this.size * 4 > this.keys.length * 3) this.grow();
    return true;
  }

  /** The Tarjan index of a visited state (-1: its SCC is complete; undefined: not visited). */
  index(h: number): number | undefined {
    const i = this.slot(h);
    return this.keys[i] === 0 ? undefined : this.tarjan[i];
  }

  setIndex(h: number, index: number): void {
    const i = this.slot(h);
    if (this.keys[i] !== 0) this.tarjan[i] = index;
  }

  private grow(): void {
    const oldKeys = this.keys, oldTarjan = this.tarjan;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.tarjan = new Int32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j];
      if (k === 0) continue;
      const i = this.slot(k - 1);
      this.keys[i] = k;
      this.tarjan[i] = oldTarjan[j];
    }
  }
}
