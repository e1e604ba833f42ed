// The visited-state set: open addressing over 53-bit state hashes (hash compaction: a state is stored as its
// hash only, so two distinct states with equal hashes would be merged; with 53 bits the chance of any merge
// among 10^8 states is about 6e-4, documented in docs/explorer.md). A slot is 8 bytes: the hash's low 32 bits,
// then its high 21 bits with an occupied bit. Robin Hood linear probing (a probe stops at the first entry nearer its
// home than the probe is to ours) keeps lookups short at a load of up to 0.8, and the table grows by 3/2 and 4/3
// in turn, so it is never less than 0.53 full: 10 to 15 bytes per visited state.
// The few states on the Tarjan stack (about the search's depth of them) are kept apart, with their Tarjan indices,
// until their strongly connected component is complete; only then do they enter the table, whose room for them is
// kept from the moment they are added. A state thus goes into the table once and is never looked up there again to
// change it (a flag in its slot cost a second probe of the table, a cache miss, for every state).

const OCCUPIED = 0x80000000, HI_MASK = 0x1fffff;
const MAX_LOAD = 0.8;

export class VisitedSet {
  /** Slot i is words 2i (the hash's low 32 bits) and 2i + 1 (the rest, with the occupied bit): one cache line per
   *  probe. */
  private t: Uint32Array;
  private cap: number;
  /** cap / 2^32: a hash's home slot is its low word scaled to the table (exact in a double). */
  private scale: number;
  /** The states on the Tarjan stack, with their Tarjan indices: not in the table yet. */
  private readonly tarjan = new StackIndex();
  /** States in the table and on the Tarjan stack: the table has room for all of them. */
  size = 0;

  constructor(capacity = 1 << 10) {
    this.cap = capacity;
    this.scale = capacity / 0x100000000;
    this.t = new Uint32Array(2 * capacity);
  }

  /** Bytes used by the table (what a visited state costs: docs/explorer.md). */
  bytes(): number {
    return this.t.byteLength;
  }

  /** Bytes used by the index of the states on the Tarjan stack (about the search's depth of them). */
  stackBytes(): number {
    return this.tarjan.bytes();
  }

  /** Bytes the next add (of a state on the Tarjan stack, or not) allocates when it grows the table or the stack's
   *  index (the old arrays live while they are copied), else 0. */
  growthBytes(onStack: boolean): number {
    return (this.size + 1 > this.cap * MAX_LOAD ? 8 * nextCapacity(this.cap) : 0) + (onStack ? this.tarjan.growthBytes() : 0);
  }

  /** floor(lo * cap / 2^32): below cap, as lo < 2^32. */
  private home(lo: number): number {
    return (lo * this.scale) | 0;
  }

  /** The slot holding hash h, or -1. */
  private find(h: number): number {
    const lo = h >>> 0, hi = (h - lo) / 0x100000000, cap = this.cap, t = this.t;
    let i = this.home(lo);
    for (let d = 0; ; d++) {
      const w = t[2 * i + 1];
      if (w === 0) return -1;
      const l = t[2 * i];
      if (l === lo && (w & HI_MASK) === hi) return i;
      // Robin Hood: entries along a probe are at least as far from home as the probe is from ours.
      const hd = i - this.home(l);
      if ((hd < 0 ? hd + cap : hd) < d) return -1;
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  has(h: number): boolean {
    return this.find(h) >= 0 || this.tarjan.index(h) !== undefined;
  }

  /** Add h, on the Tarjan stack with its index (>= 0), or with its component complete (-1); false if it was there. */
  add(h: number, index: number): boolean {
    if (this.has(h)) return false;
    // Room in the table now, for a state on the stack too: it enters the table when its component is complete.
    if (this.size + 1 > this.cap * MAX_LOAD) this.grow();
    if (index >= 0) this.tarjan.set(h, index);
    else this.insert(h);
    this.size++;
    return true;
  }

  private insert(h: number): void {
    const lo = h >>> 0, hi = (h - lo) / 0x100000000;
    this.place(lo, (hi | OCCUPIED) >>> 0);
  }

  private place(lo: number, hi: number): void {
    const cap = this.cap, t = this.t;
    let i = this.home(lo), d = 0;
    for (;;) {
      const w = t[2 * i + 1];
      if (w === 0) {
        t[2 * i] = lo;
        t[2 * i + 1] = hi;
        return;
      }
      const l = t[2 * i];
      let hd = i - this.home(l);
      if (hd < 0) hd += cap;
      if (hd < d) {
        // Take the slot from an entry nearer its home, and carry that one on.
        t[2 * i] = lo;
        t[2 * i + 1] = hi;
        lo = l;
        hi = w;
        d = hd;
      }
      i = i + 1 === cap ? 0 : i + 1;
      d++;
    }
  }

  /** The Tarjan index of a visited state (-1: its SCC is complete; undefined: not visited). */
  index(h: number): number | undefined {
    if (this.find(h) >= 0) return -1;
    return this.tarjan.index(h);
  }

  /** A state's new Tarjan index; -1: its component is complete, and it leaves the stack for the table. */
  setIndex(h: number, index: number): void {
    if (this.tarjan.index(h) === undefined) {
      if (index >= 0 && this.find(h) >= 0) throw new Error('VisitedSet.setIndex: a state whose component is complete cannot go back on the Tarjan stack');
      return;
    }
    if (index >= 0) {
      this.tarjan.set(h, index);
      return;
    }
    this.tarjan.delete(h);
    this.insert(h);
  }

  private grow(): void {
    const old = this.t;
    this.cap = nextCapacity(this.cap);
    this.scale = this.cap / 0x100000000;
    this.t = new Uint32Array(2 * this.cap);
    for (let j = 1; j < old.length; j += 2) if (old[j] !== 0) this.place(old[j - 1], old[j]);
  }
}

/**
 * Hash -> Tarjan index of the states on the Tarjan stack (about the search's depth of them): linear probing over
 * typed arrays, deletion by backward shift. A Map keyed by 53-bit numbers allocated an entry per state.
 */
class StackIndex {
  private lo = new Uint32Array(64);
  private hi = new Uint32Array(64);
  private val = new Int32Array(64);
  private n = 0;

  private slot(h: number): number {
    const lo = h >>> 0, hi = ((h - lo) / 0x100000000) | OCCUPIED, mask = this.lo.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const w = this.hi[i];
      if (w === 0 || (w === hi >>> 0 && this.lo[i] === lo)) return i;
    }
  }

  /** Bytes held. */
  bytes(): number {
    return 12 * this.lo.length;
  }

  /** Bytes the next new entry allocates when it grows the index, else 0. */
  growthBytes(): number {
    return (this.n + 1) * 2 > this.lo.length ? 24 * this.lo.length : 0;
  }

  /** The index of h, or undefined. */
  index(h: number): number | undefined {
    if (this.n === 0) return undefined;
    const i = this.slot(h);
    return this.hi[i] === 0 ? undefined : this.val[i];
  }

  set(h: number, v: number): void {
    const i = this.slot(h);
    if (this.hi[i] === 0) {
      this.lo[i] = h >>> 0;
      this.hi[i] = (((h - (h >>> 0)) / 0x100000000) | OCCUPIED) >>> 0;
      if (++this.n * 2 > this.lo.length) {
        this.val[i] = v;
        this.rehash();
        return;
      }
    }
    this.val[i] = v;
  }

  delete(h: number): void {
    const lo = this.lo, hi = this.hi, val = this.val, mask = lo.length - 1;
    let i = this.slot(h);
    if (hi[i] === 0) return;
    // Backward shift: move up each later entry of the run whose home is not between the hole and it.
    for (let j = (i + 1) & mask; hi[j] !== 0; j = (j + 1) & mask) {
      const home = lo[j] & mask;
      if (((j - home) & mask) < ((j - i) & mask)) continue;
      lo[i] = lo[j];
      hi[i] = hi[j];
      val[i] = val[j];
      i = j;
    }
    hi[i] = 0;
    this.n--;
  }

  private rehash(): void {
    const lo = this.lo, hi = this.hi, val = this.val, cap = 2 * lo.length, mask = cap - 1;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.val = new Int32Array(cap);
    for (let k = 0; k < lo.length; k++) {
      if (hi[k] === 0) continue;
      let i = lo[k] & mask;
      while (this.hi[i] !== 0) i = (i + 1) & mask;
      this.lo[i] = lo[k];
      this.hi[i] = hi[k];
      this.val[i] = val[k];
    }
  }
}

/** 2^k grows to 3 * 2^(k-1), which grows to 2^(k+1). */
function nextCapacity(cap: number): number {
  return (cap & (cap - 1)) === 0 ? cap + cap / 2 : (cap / 3) * 4;
}
