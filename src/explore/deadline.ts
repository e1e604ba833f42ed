// The search's wall-clock deadline, its interruption (Ctrl-C) and its progress reports, read by time rather than by
// steps: a state of a 256-CPU test can take milliseconds, one of a 2-CPU test microseconds.

export interface DeadlineOptions {
  /** Called now and then with the number of states so far and the depth of the run (for a progress line). */
  progress?: (states: number, depth: number) => void;
  /** Polled now and then: true ends the search with what it found so far (cut by 'interrupted': Ctrl-C). */
  interrupted?: () => boolean;
}

/**
 * Checked every `every` steps, with `every` adapted so that the clock is read every 1-4 ms of work whatever a step
 * costs.
 */
export class Deadline {
  private every = 1;
  private left = 1;
  private last: number;
  constructor(
    private readonly at: number,
    t0: number,
    private readonly opts: DeadlineOptions,
    /** What the progress line shows: states so far and the depth of the run. */
    private readonly where: () => [number, number],
  ) {
    this.last = t0;
  }
  /** Count one step; 'timeout' once the deadline has passed, 'interrupted' once the search is asked to stop. */
  check(): 'timeout' | 'interrupted' | null {
    if (--this.left > 0) return null;
    const now = performance.now(), dt = now - this.last;
    this.last = now;
    if (dt < 1 && this.every < 1 << 16) this.every *= 2;
    else if (dt > 4 && this.every > 1) this.every >>>= 1;
    this.left = this.every;
    if (this.opts.progress) this.opts.progress(...this.where());
    if (now > this.at) return 'timeout';
    return this.opts.interrupted?.() ? 'interrupted' : null;
  }
  /** Read the clock now (for work that is slow in one piece). */
  passedNow(): boolean {
    return performance.now() > this.at;
  }
}
