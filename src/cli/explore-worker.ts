// The worker thread that explores for the command line (src/cli/explorer.ts): the search is synchronous, so it runs
// here while the main thread stays free to take Ctrl-C, which it passes on through a shared flag that the search
// polls; the search then ends with what it found (cut by 'interrupted').
import { parentPort, workerData } from 'node:worker_threads';
import { parseLitmus } from '../litmus/parse.js';
import { runTest } from '../explore/run.js';
import { runLines } from './run.js';
import type { Job, Reply } from './explorer.js';
import { nodeThreads } from './threads.js';

const flag = new Int32Array((workerData as { flag: SharedArrayBuffer }).flag);
const port = parentPort!;

port.on('message', (job: Job) => {
  const reply = (r: Reply) => port.postMessage(r);
  try {
    const parsed = parseLitmus(job.source, job.file);
    if (!parsed.ok) throw new Error(parsed.errors.map((d) => d.format()).join('\n'));
    let last = -Infinity; // the first poll always reports: a search of 1,024 steps shows progress
    const r = runTest(parsed.test, job.profile, {
      ...job.limits,
      threads: nodeThreads,
      interrupted: () => Atomics.load(flag, 0) !== 0,
      progress: (states, depth) => {
        const now = performance.now();
        if (now - last < 100) return;
        last = now;
        reply({ kind: 'progress', states, depth });
      },
    });
    reply({ kind: 'done', answer: r.answer, lines: job.mode ? runLines(r, job.mode) : [] });
  } catch (e) {
    reply({ kind: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
