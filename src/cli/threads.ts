// Threads for the parallel explorer (ExploreOptions.jobs) in Node: worker_threads running search-worker.js, the
// result coming back on a MessageChannel that the (blocked) coordinator reads without its event loop. A thread that
// finished its share is kept for the next search: starting one (a V8 isolate, the model's modules, its code compiled
// anew) takes 70-150 ms, more than many searches.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { exploreParallel, type ShareData, type ThreadHandle, type Threads } from '../explore/parallel.js';

/** The worker script, beside this file once compiled (from the TypeScript sources, as tests run: the build's). */
function workerScript(): URL {
  const here = new URL('./search-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/cli/search-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('the explorer\'s worker script is not built (npm run build)');
}

/** Threads that finished a share and wait for the next. */
const idle: Worker[] = [];

export const nodeThreads: Threads = {
  start(data: ShareData): ThreadHandle {
    let worker = idle.pop();
    if (!worker) {
      worker = new Worker(workerScript());
      // An idle thread does not keep the process alive.
      worker.unref();
    }
    const w = worker, { port1, port2 } = new MessageChannel();
    w.postMessage({ data, port: port2 }, [port2]);
    let result: unknown;
    return {
      receive: () => (result ??= receiveMessageOnPort(port1)?.message),
      terminate: () => {
        port1.close();
        // A thread still searching (the coordinator failed) is stopped; one that answered is kept.
        if (result !== undefined) idle.push(w);
        else void w.terminate();
      },
    };
  },
  search: exploreParallel,
};
