// The command line's explorations run in a worker thread (explore-worker.ts), one at a time, so that Ctrl-C can
// end a search and still print what it found: interrupt() raises a flag the search polls.
import { Worker } from 'node:worker_threads';
import type { Answer } from '../explore/answer.js';
import type { RunOptions } from '../explore/run.js';
import type { Profile } from '../sim/profiles.js';

export type Limits = Pick<RunOptions, 'maxStates' | 'maxDepth' | 'timeoutMs' | 'maxMemory' | 'first' | 'random' | 'por' | 'symmetry' | 'jobs'>;

export interface Job {
  source: string;
  file: string;
  profile: Profile;
  limits: Limits;
  /** How `lapis run` prints the answer (runLines); none: only the answer. */
  mode?: { json: boolean; trace: boolean; traceJson: boolean };
}

export type Reply =
  | { kind: 'progress'; states: number; depth: number }
  | { kind: 'done'; answer: Answer; lines: string[] }
  | { kind: 'error'; message: string };

export interface Done {
  answer: Answer;
  lines: string[];
}

export class Explorer {
  private readonly flag = new SharedArrayBuffer(4);
  private worker: Worker | null = null;
  interrupted = false;

  /** Explore one test; onProgress gets the states and depth now and then. */
  run(job: Job, onProgress: (states: number, depth: number) => void): Promise<Done> {
    this.worker ??= new Worker(new URL('./explore-worker.js', import.meta.url), { workerData: { flag: this.flag } });
    const w = this.worker;
    return new Promise((resolve, reject) => {
      const onMessage = (r: Reply) => {
        if (r.kind === 'progress') return onProgress(r.states, r.depth);
        w.off('message', onMessage);
        w.off('error', onError);
        if (r.kind === 'done') resolve({ answer: r.answer, lines: r.lines });
        else reject(new Error(r.message));
      };
      const onError = (e: Error) => {
        w.off('message', onMessage);
        reject(e);
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.postMessage(job);
    });
  }

  /** End the current search (and any later one at once) with what it found. */
  interrupt(): void {
    this.interrupted = true;
    Atomics.store(new Int32Array(this.flag), 0, 1);
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = null;
  }
}
