// Tarjan's stack for the explorer: the hashes of the states whose strongly connected component is not complete yet,
// each with two flags (an edge leaves toward a complete component; the state steps to itself). Typed arrays, so
// that the search's memory bound counts what the stack really holds (as boolean and number arrays it held 8 bytes a
// flag and up to twice its length in spare room, which no estimate could see).

const EXIT = 1, SELF = 2;

export class TarjanStack {
  private hash = new Float64Array(64);
  private flags = new Uint8Array(64);
  /** Entries on the stack. */
  length = 0;

  /** Push a state with no flags set; its position. */
  push(h: number): number {
    const n = this.length;
    if (n === this.hash.length) this.grow();
    this.hash[n] = h;
    this.flags[n] = 0;
    this.length = n + 1;
    return n;
  }

  /** Set the flags of the entry at `at` (its frame has closed). */
  setFlags(at: number, exit: boolean, self: boolean): void {
    this.flags[at] = (exit ? EXIT : 0) | (self ? SELF : 0);
  }

  hashAt(i: number): number {
    return this.hash[i];
  }
  exitAt(i: number): boolean {
    return (this.flags[i] & EXIT) !== 0;
  }
  selfAt(i: number): boolean {
    return (this.flags[i] & SELF) !== 0;
  }

  /** Drop the entries from `at` on. */
  truncate(at: number): void {
    this.length = at;
  }

  /** Bytes held. */
  bytes(): number {
    return this.hash.byteLength + this.flags.byteLength;
  }

  /** Bytes the next push allocates when it grows the stack (the old arrays live while they are copied), else 0. */
  growthBytes(): number {
    return this.length === this.hash.length ? 9 * 2 * this.hash.length : 0;
  }

  private grow(): void {
    const hash = new Float64Array(2 * this.hash.length), flags = new Uint8Array(2 * this.flags.length);
    hash.set(this.hash);
    flags.set(this.flags);
    this.hash = hash;
    this.flags = flags;
  }
}
