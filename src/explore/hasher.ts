// The explorer's state hash, kept up to date incrementally. A state's hash is a sum over its words of a 64-bit
// mix of (word key, value), so a step changes it by the mixes of the words it wrote: after a step the sum is updated
// from the words the step's write log noted (src/arch/writes.ts), or, without a complete log, from those where a
// compare of the new state with its parent's finds a difference. What the sum covers is the state as the explorer
// compares states (docs/explorer.md, "Hash compaction"):
// - time relative to now when the test allows it (Machine.relativeHash): the clock reads 0, each APIC timer and
//   each `wait` counts from now. These words are derived groups, recomputed when one of their inputs changed.
// - the bus as in-flight records per channel (sender, target) in order: records of different channels are not
//   ordered with each other (only a channel's order decides anything, decision D-11).
// - with symmetry (src/explore/symmetry.ts), the words of each interchangeable processor summed apart, under keys
//   that do not depend on its slot (its signature); the signatures are then sorted within each class the drivers'
//   progress leaves interchangeable and mixed in by rank. Dead words (the ICRs, a driver's block-local registers
//   outside their block) count as 0.
// Two lanes of 32 bits are kept; the hash is 53 bits of their final mix.

import type { Simulator } from '../sim/sim.js';
import { Msg } from '../machine/bus.js';
import { P, type ProcCode } from '../sim/program.js';
import { A } from '../apic/layout.js';
import { C, presentIn } from '../cpu/cpu.js';
import { LvtIndex } from '../arch/apic.js';
import { WordDiff, nextDiff } from './diff.js';
import { copyWords } from './copy.js';
import { WriteLog } from '../arch/writes.js';
import { fmix as finalMix } from '../machine/hash.js';

const M1 = 0xcc9e2d51, M2 = 0x1b873593, M3 = 0x85ebca6b;

/** The lanes are signed 32-bit sums. */
function fmix(h: number): number {
  return finalMix(h) | 0;
}

/** A lane's mix of value v under its key's seeds (s, t) and the lane's multiplier m. */
function mix(v: number, s: number, t: number, m: number): number {
  return fmix(Math.imul(v ^ s, m) ^ t);
}

function unnoted(i: number): never {
  throw new Error(`state word ${i} changed in a step without a noted write (a write past put, src/arch/writes.ts, or the parent's state not put back whole before the step)`);
}

/** A word slot's key: distinct keys get independent mixes. */
function seed(k: number, salt: number): number {
  return fmix(Math.imul(k + 1, 0x9e3779b1) ^ salt);
}

/** The 53-bit hash of the two lanes. */
function finish(a: number, b: number): number {
  return (fmix(a ^ Math.imul(b, M1)) >>> 0) * 0x200000 + (fmix(b ^ 0x27d4eb2f) >>> 11);
}

/** Interchangeable processors and dead words, as symmetry.ts has found them for a test. */
export interface CanonLayout {
  /** Per member (in slot order): the state index of each of its words, in an order common to all members. */
  readonly members: readonly Int32Array[];
  /** The CPU index of each member. */
  readonly cpus: readonly number[];
  /** State indices that count as 0: dead (ICRs) or the slot's identity (APIC IDs). */
  readonly ignored: readonly number[];
  /**
   * Members whose SMBASE is their slot's own: the SMBASE and save-state SMBASE words, and the SMBASE the member
   * starts with. They count only by how they relate to it (symmetry.ts).
   */
  readonly smbases: readonly { smbase: number; save: number; initial: number }[];
  /** Driver registers that are dead outside the block that writes them: counted only while `live(pc)`. */
  readonly deadRegs: readonly { pcWord: number; words: readonly number[]; live(pc: number): boolean }[];
  /**
   * Members interchangeable in this state: the member slots are cut into runs at the positions this writes to
   * `out` (ascending); returns how many.
   */
  cuts(s: Uint32Array, out: Int32Array): number;
}

const PLAIN = 0, IGNORED = 1, GROUP = 2;
/** The clock: the state's first two words (Machine.relativeHash). */
const CLOCK_WORDS = 2;

/** The APIC timer words relativeHash rewrites (from the CPU's base), and the words they are computed from
 *  (Machine.relativeTimerWords: the timer's mode, divisor, count and start, the TSC deadline; and the CPU's presence,
 *  from its activity word, which triggers the group only when presence changes: presenceWord below. The activity
 *  word changes at HLT, wake-up, SIPI and more: as a plain trigger it recomputed the group 0.42 times a step in the
 *  raw bring-up search, 0.07 now). */
const TIMER_WORDS = [A.TIMER_START_LO, A.TIMER_START_HI, A.TSC_DEADLINE_LO, A.TSC_DEADLINE_HI].map((o) => C.WORDS + o);
const TIMER_INPUTS = [...[A.LVT + LvtIndex.TIMER, A.TDCR, A.TMICT, A.TIMER_BASE].map((o) => C.WORDS + o), ...TIMER_WORDS];

interface Group {
  /** Member position, or -1 for the global sum. */
  owner: number;
  /** State indices of the words it rewrites, and their keys. */
  words: Int32Array;
  keys: Int32Array;
  /** Recompute the rewritten words into `rel`. */
  compute: (rel: Uint32Array) => void;
}

export class StateHasher {
  private readonly s: Uint32Array;
  /** The state as signed words: compares of words at or above 2^31 stay integer compares. */
  private readonly si: Int32Array;
  private readonly busBase: number;
  private readonly n: number;
  /** Per state index below busBase: PLAIN, IGNORED or GROUP; its owner (member position, -1); its key; the group it triggers. */
  private readonly cls: Uint8Array;
  private readonly own: Int16Array;
  private readonly key: Int32Array;
  private readonly trig: Int16Array;
  /** Trigger words that count only when what they say of presence changes (the activity words: presentIn). */
  private readonly presenceWord: Uint8Array;
  /** Per key k, the four seeds of its lane mixes at 4k..4k+3 (one array: a step reads them side by side). */
  private readonly z: Int32Array;
  /** Per word below busBase, what `full` and `child` read of it: the offset of its lane sums in aux (-1: not PLAIN);
   *  its four seeds at 4i..4i+3; 1 where it is the clock or a derived group's input. */
  private readonly lane: Int32Array;
  private readonly zi: Int32Array;
  private readonly watched: Uint8Array;
  private readonly groups: Group[] = [];
  /** Groups that time moves: all of them are recomputed when the clock changes. */
  private readonly timeGroups: number[] = [];
  /** Time relative to now (Machine.relativeHash): the clock words count as 0 and time moves the time groups. */
  private readonly relative: boolean;
  private readonly mark: Uint8Array;
  private readonly dirty: number[] = [];
  private readonly rel: Uint32Array;
  /** The CPU index -> member position map (-1: not a member). */
  private readonly memberOf: Int32Array;
  private readonly cutsBuf: Int32Array;
  private readonly order: Int32Array;
  private readonly diff: WordDiff;
  /** Aux layout: lanes of the global sum and of each member's; each group's last contribution; the bus's per owner. */
  private readonly gBase: number;
  private readonly busAux: number;
  readonly auxLength: number;

  /** The writes since beforeStep and the values they replaced (the explorer saves them to undo a step later), and
   *  which words below busBase the hash has counted. */
  readonly log: WriteLog;
  private readonly seen: Uint32Array;
  private stamp = 0;
  /** checkWrites: the state when the step began. */
  private readonly before: Int32Array | null;

  /**
   * `checkWrites`: after each logged step compare the whole state with the one it began from as well, and throw where
   * a changed word was not noted, where the noted values do not undo the step, or where the hash differs from the
   * hash from nothing.
   */
  constructor(private readonly sim: Simulator, private readonly canon: CanonLayout | null = null, checkWrites = false) {
    const m = sim.machine;
    this.s = m.state;
    this.log = new WriteLog(m.state);
    this.before = checkWrites ? new Int32Array(m.state.length) : null;
    this.seen = new Uint32Array(m.busBase);
    this.diff = new WordDiff(m.busBase, m.state.length);
    this.si = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
    this.busBase = m.busBase;
    const L = this.busBase;
    this.n = canon ? canon.members.length : 0;
    const memberWords = canon && this.n > 0 ? canon.members[0].length : 0;
    this.cls = new Uint8Array(L);
    this.own = new Int16Array(L).fill(-1);
    this.key = new Int32Array(L);
    this.trig = new Int16Array(L).fill(-1);
    this.presenceWord = new Uint8Array(L);
    for (let i = 0; i < L; i++) this.key[i] = i;
    this.memberOf = new Int32Array(m.cpus.length).fill(-1);
    if (canon) {
      canon.members.forEach((words, p) => {
        this.memberOf[canon.cpus[p]] = p;
        words.forEach((at, j) => {
          if (at < 0) return;
          this.own[at] = p;
          this.key[at] = L + j;
        });
      });
      for (const at of canon.ignored) this.cls[at] = IGNORED;
    }
    const K = L + memberWords;
    this.z = new Int32Array(4 * K);
    for (let k = 0; k < K; k++) {
      this.z[4 * k] = seed(k, 0x3c6ef372);
      this.z[4 * k + 1] = seed(k, 0x5bd1e995);
      this.z[4 * k + 2] = seed(k, 0x7f4a7c15);
      this.z[4 * k + 3] = seed(k, 0x165667b1);
    }
    this.rel = new Uint32Array(this.s.length);
    this.relative = sim.relativeTime;
    if (sim.relativeTime) {
      // Machine.relativeHash: the clock reads 0 (two words at the start of the state), timers and waits relative.
      for (let at = 0; at < CLOCK_WORDS; at++) this.cls[at] = IGNORED;
      for (let c = 0; c < m.cpus.length; c++) {
        const base = m.cpuBase(c), words = TIMER_WORDS.map((o) => base + o);
        this.timeGroups.push(this.addGroup(words, (rel) => {
          for (const at of words) rel[at] = this.s[at];
          m.relativeTimerWords(c, rel);
        }, [...TIMER_INPUTS.map((o) => base + o), base + C.ACTIVITY]));
        this.presenceWord[base + C.ACTIVITY] = 1;
      }
      const waits = (code: ProcCode): void => {
        const words = [sim.w(code, P.WAIT_LO), sim.w(code, P.WAIT_HI), sim.w(code, P.WAIT_DEPTH)];
        this.timeGroups.push(this.addGroup(words, (rel) => {
          rel[words[2]] = this.s[words[2]];
          sim.relativeWait(rel, code, m.now());
        }, words));
      };
      for (const code of sim.program.cpus) waits(code);
      for (const code of sim.program.agents) waits(code);
    }
    for (const { smbase, save, initial } of canon?.smbases ?? []) {
      // SMBASE: the initial one, or the 32 KiB tile RSM aligns it to (quirk smbaseAligned32K); the save-state field:
      // 0 (outside SMM) or SMBASE (SMM entry copies it). Anything else (2) symmetry.ts rules out.
      this.addGroup([smbase, save], (rel) => {
        const v = this.s[smbase], w = this.s[save];
        rel[smbase] = v === initial ? 0 : v === (initial & ~0x7fff) >>> 0 ? 1 : 2;
        rel[save] = w === 0 ? 0 : w === v ? 1 : 2;
      }, [smbase, save]);
    }
    for (const d of canon?.deadRegs ?? []) {
      const words = [...d.words];
      this.addGroup(words, (rel) => {
        const live = d.live(this.s[d.pcWord]);
        for (const at of words) rel[at] = live ? this.s[at] : 0;
      }, [...words, d.pcWord]);
    }
    // Per word below busBase, what `full` and `child` read of it in one place: its lane sums' offset in aux (-1: not
    // a plain word), its seeds by word (not by key), and whether it is the clock or a derived group's input.
    this.lane = new Int32Array(L).fill(-1);
    this.zi = new Int32Array(4 * L);
    this.watched = new Uint8Array(L);
    for (let i = 0; i < L; i++) {
      if (this.cls[i] === PLAIN) {
        this.lane[i] = 2 + 2 * this.own[i];
        for (let q = 0; q < 4; q++) this.zi[4 * i + q] = this.z[4 * this.key[i] + q];
      }
      if (i < CLOCK_WORDS || this.trig[i] >= 0) this.watched[i] = 1;
    }
    this.mark = new Uint8Array(this.groups.length);
    this.cutsBuf = new Int32Array(this.n + 2);
    this.order = new Int32Array(this.n);
    this.gBase = 2 + 2 * this.n;
    this.busAux = this.gBase + 2 * this.groups.length;
    this.auxLength = this.busAux + 2 + 2 * this.n;
  }

  /** A derived group over `words` (their owner is the owner of the first), recomputed when a `triggers` word changes. */
  private addGroup(words: number[], compute: (rel: Uint32Array) => void, triggers: number[]): number {
    const id = this.groups.length;
    for (const at of words) this.cls[at] = GROUP;
    for (const at of triggers) {
      // One group per trigger word (child() marks one): two would leave one stale, and the hash wrong.
      if (this.trig[at] >= 0) throw new Error(`state word ${at} would trigger two derived groups`);
      this.trig[at] = id;
    }
    const keys = Int32Array.from(words, (at) => this.key[at]);
    this.groups.push({ owner: this.own[words[0]], words: Int32Array.from(words), keys, compute });
    return id;
  }

  // Lane mixes of (key, value).
  private ga(k: number, v: number): number {
    return mix(v, this.z[4 * k], this.z[4 * k + 1], M1);
  }
  private gb(k: number, v: number): number {
    return mix(v, this.z[4 * k + 2], this.z[4 * k + 3], M2);
  }

  /** The hash of the live state, from nothing; fills `aux` for later `child` calls. */
  full(aux: Uint32Array): number {
    aux.fill(0);
    // The plain words through the same per-word table as `child`.
    const s = this.s, lane = this.lane, z = this.zi;
    for (let i = 0; i < this.busBase; i++) {
      const ax = lane[i];
      if (ax < 0) continue;
      const v = s[i], q = 4 * i;
      aux[ax] = (aux[ax] + mix(v, z[q], z[q + 1], M1)) | 0;
      aux[ax + 1] = (aux[ax + 1] + mix(v, z[q + 2], z[q + 3], M2)) | 0;
    }
    for (let g = 0; g < this.groups.length; g++) this.regroup(g, aux);
    this.rebus(aux);
    return this.result(aux);
  }

  /**
   * The hash of the live state, which one step made from the parent whose sums are `parentAux`; fills `aux` (it may
   * be `parentAux` itself). With the write log (beforeStep) the step's writes and the values they replaced say what
   * changed; without it, a compare with `parent`, the parent's words.
   */
  child(parent: Int32Array | null, parentAux: Uint32Array, aux: Uint32Array): number {
    if (aux !== parentAux) copyWords(aux, parentAux);
    const s = this.si, L = this.busBase, log = this.log;
    // The words written since beforeStep, each with the value it had before that write (src/arch/writes.ts; only
    // writes that changed a word are noted): a word's first entry holds the parent's value. Without the log, the
    // words where a compare of the whole state with the parent's finds a difference.
    const logged = log.complete();
    if (!logged && parent === null) throw new Error('StateHasher.child: no write log (beforeStep) and no parent state to compare with');
    const noted = logged ? log.at : this.diff.at, n = logged ? log.n : this.diff.differ(s, parent!), seen = this.seen;
    const olds = logged ? log.old : null, lane = this.lane, watched = this.watched, z = this.zi;
    // A word is counted once a step: `seen` holds the step's stamp where it was.
    const stamp = this.stamp = this.stamp === 0xffffffff ? this.restamp() : this.stamp + 1;
    let bus = false, clock = false;
    for (let j = 0; j < n; j++) {
      const i = noted[j];
      if (i >= L) {
        bus = true;
        continue;
      }
      if (seen[i] === stamp) continue;
      seen[i] = stamp;
      const v = s[i], o = olds !== null ? olds[j] : parent![i];
      if (v === o) continue;
      if (watched[i] !== 0) {
        if (i < CLOCK_WORDS) clock = true;
        const t = this.trig[i];
        if (t >= 0 && this.mark[t] === 0 && (this.presenceWord[i] === 0 || presentIn(v) !== presentIn(o))) {
          this.mark[t] = 1;
          this.dirty.push(t);
        }
      }
      const ax = lane[i];
      if (ax < 0) continue;
      const q = 4 * i, sa = z[q], ta = z[q + 1], sb = z[q + 2], tb = z[q + 3];
      aux[ax] = (aux[ax] + mix(v, sa, ta, M1) - mix(o, sa, ta, M1)) | 0;
      aux[ax + 1] = (aux[ax + 1] + mix(v, sb, tb, M2) - mix(o, sb, tb, M2)) | 0;
    }
    if (clock && this.relative) {
      for (const g of this.timeGroups) {
        if (this.mark[g] === 0) {
          this.mark[g] = 1;
          this.dirty.push(g);
        }
      }
    }
    // Popped, not truncated: an array set to length 0 loses its backing store (sim.enabled).
    while (this.dirty.length > 0) {
      const g = this.dirty.pop()!;
      this.mark[g] = 0;
      this.regroup(g, aux);
    }
    // The bus's words changed: noted at or past busBase (the log), or found by a compare of them (no log).
    if (!logged) {
      const end = L + 1 + Math.max(s[L], parent![L]);
      bus = nextDiff(s, parent!, L, end) < end;
    }
    if (bus) this.rebus(aux);
    const h = this.result(aux);
    if (logged && this.before !== null) this.check(bus, h);
    return h;
  }

  /** Clear `seen` when its stamp would wrap around; the next stamp. */
  private restamp(): number {
    this.seen.fill(0);
    return 1;
  }

  /**
   * checkWrites, after a logged step from the state `before` holds: every word that changed was noted (`seen`; the
   * bus's: `bus`), and each noted word's first entry holds the value it had, so that the log undoes the step; every
   * eighth step (the hash from nothing costs a pass over the whole state), the hash `h` is the hash from nothing.
   */
  private check(bus: boolean, h: number): void {
    const before = this.before!, s = this.si, log = this.log;
    const changed = this.diff.differ(s, before), at = this.diff.at;
    for (let j = 0; j < changed; j++) if (this.seen[at[j]] !== this.stamp) unnoted(at[j]);
    const L = this.busBase, end = L + 1 + Math.max(s[L], before[L]), busAt = nextDiff(s, before, L, end);
    if (!bus && busAt < end) unnoted(busAt);
    const first = new Set<number>();
    for (let j = 0; j < log.n; j++) {
      const i = log.at[j];
      if (first.has(i)) continue;
      first.add(i);
      if (log.old[j] !== before[i]) throw new Error(`state word ${i}: the write log holds ${log.old[j] >>> 0} as its value before the step, not ${before[i] >>> 0}: it would not undo the step`);
    }
    if ((this.stamp & 7) === 0 && h !== this.full(new Uint32Array(this.auxLength))) {
      throw new Error('the incremental hash differs from the hash from nothing after a step (the step did not start from the state whose sums it was given)');
    }
  }

  /** A step is about to be taken: its writes, and the values they replace, are noted from now on, for `child` and
   *  `undo`. */
  beforeStep(): void {
    this.log.start();
    if (this.before !== null) copyWords(this.before, this.si);
  }

  /**
   * Undo the writes noted since beforeStep in `live` (newest first): it is the state the step started from again,
   * with no copy of it kept. False where there is no log to say what they were (none started).
   */
  undo(live: Int32Array): boolean {
    if (!this.log.complete()) return false;
    this.log.undo(live);
    return true;
  }

  /** The search is over: writes are no longer noted. */
  release(): void {
    this.log.stop();
  }

  /** Replace group g's contribution in `aux` by its value in the live state. */
  private regroup(g: number, aux: Uint32Array): void {
    const grp = this.groups[g], rel = this.rel, at = 2 + 2 * grp.owner, prev = this.gBase + 2 * g;
    grp.compute(rel);
    let a = 0, b = 0;
    for (let j = 0; j < grp.words.length; j++) {
      const v = rel[grp.words[j]], k = grp.keys[j];
      a = (a + this.ga(k, v)) | 0;
      b = (b + this.gb(k, v)) | 0;
    }
    aux[at] = (aux[at] + a - aux[prev]) | 0;
    aux[at + 1] = (aux[at + 1] + b - aux[prev + 1]) | 0;
    aux[prev] = a;
    aux[prev + 1] = b;
  }

  /**
   * Replace the bus's contribution. A record counts under the key of (its channel, its place among the records of
   * its channel); a record between a member and a non-member counts in the member's sum with the member's end
   * written as "itself". Records between two members are mixed in by rank in `result`.
   */
  private rebus(aux: Uint32Array): void {
    const s = this.s, L = this.busBase, count = s[L], at = this.busAux;
    for (let o = -1; o < this.n; o++) {
      const acc = 2 + 2 * o, prev = at + 2 + 2 * o;
      aux[acc] = (aux[acc] - aux[prev]) | 0;
      aux[acc + 1] = (aux[acc + 1] - aux[prev + 1]) | 0;
      aux[prev] = 0;
      aux[prev + 1] = 0;
    }
    for (let i = 0; i < count; i++) {
      let w = s[L + 1 + i];
      const tgt = this.memberOf[Msg.target(w)], src = Msg.source(w) > 0 ? this.memberOf[Msg.source(w) - 1] : -1;
      if (tgt >= 0 && src >= 0) continue;
      let owner = -1;
      if (tgt >= 0) {
        owner = tgt;
        w = (w & ~(0xff << 13)) | (1 << 30);
      } else if (src >= 0) {
        owner = src;
        w = (w & ~(0x1ff << 21)) | (1 << 31);
      }
      const k = this.recordKey(w, this.place(i));
      const acc = 2 + 2 * owner, prev = at + 2 + 2 * owner;
      const a = fmix(Math.imul(w ^ k, M1) ^ 0x2545f491), b = fmix(Math.imul(w ^ fmix(k ^ 0x6a09e667), M2));
      aux[acc] = (aux[acc] + a) | 0;
      aux[acc + 1] = (aux[acc + 1] + b) | 0;
      aux[prev] = (aux[prev] + a) | 0;
      aux[prev + 1] = (aux[prev + 1] + b) | 0;
    }
  }

  /** Record i's place among the records of its channel (older records of the same sender and target). */
  private place(i: number): number {
    const s = this.s, at = this.busBase + 1, ch = s[at + i] & 0x3fffe000;
    let n = 0;
    for (let j = 0; j < i; j++) if ((s[at + j] & 0x3fffe000) === ch) n++;
    return n;
  }

  private recordKey(w: number, place: number): number {
    return fmix(Math.imul((w >>> 13) ^ 0x51ed270b, M3) ^ Math.imul(place + 1, 0x9e3779b1));
  }

  /** The hash: the global sum, and with symmetry each member's signature mixed in by its rank in its class. */
  private result(aux: Uint32Array): number {
    let a = aux[0] | 0, b = aux[1] | 0;
    if (this.n === 0) return finish(a, b);
    const order = this.order, n = this.n;
    for (let p = 0; p < n; p++) order[p] = p;
    const cuts = this.cutsBuf;
    const nc = this.canon!.cuts(this.s, cuts);
    let lo = 0;
    for (let c = 0; c <= nc; c++) {
      const hi = c < nc ? cuts[c] : n;
      // Insertion sort of the run [lo, hi) by signature.
      for (let i = lo + 1; i < hi; i++) {
        const p = order[i], pa = aux[2 + 2 * p] >>> 0, pb = aux[3 + 2 * p] >>> 0;
        let j = i - 1;
        for (; j >= lo; j--) {
          const q = order[j], qa = aux[2 + 2 * q] >>> 0;
          if (qa < pa || (qa === pa && aux[3 + 2 * q] >>> 0 <= pb)) break;
          order[j + 1] = q;
        }
        order[j + 1] = p;
      }
      lo = hi;
    }
    for (let r = 0; r < n; r++) {
      const p = order[r], x = aux[2 + 2 * p], y = aux[3 + 2 * p];
      a = (a + fmix(Math.imul(x ^ this.z[4 * r], M1) ^ y)) | 0;
      b = (b + fmix(Math.imul(y ^ this.z[4 * r + 2], M2) ^ x)) | 0;
    }
    const s = this.s, L = this.busBase, count = s[L];
    for (let i = 0; i < count; i++) {
      const w = s[L + 1 + i];
      const tgt = this.memberOf[Msg.target(w)], src = Msg.source(w) > 0 ? this.memberOf[Msg.source(w) - 1] : -1;
      if (tgt < 0 || src < 0) continue;
      // Ranks of the two members: their places in `order`.
      let rt = 0, rs = 0;
      for (let r = 0; r < n; r++) {
        if (order[r] === tgt) rt = r;
        if (order[r] === src) rs = r;
      }
      const k = this.recordKey((w & 0x1fff) | (rt << 13) | (rs << 21), this.place(i));
      a = (a + fmix(Math.imul((w & 0x1fff) ^ k, M1) ^ 0x7f4a7c15)) | 0;
      b = (b + fmix(Math.imul(k ^ 0x3c6ef372, M2) ^ w)) | 0;
    }
    return finish(a, b);
  }
}
