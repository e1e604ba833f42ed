// Threads for the parallel explorer (ExploreOptions.jobs) in Node: worker_threads running search-worker.js, the
// result coming back on a MessageChannel that the (blocked) coordinator reads without its event loop.
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

export const nodeThreads: Threads = {
  start(data: ShareData): ThreadHandle {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(workerScript(), { workerData: { data, port: port2 }, transferList: [port2] });
    worker.unref();
    return {
      receive: () => receiveMessageOnPort(port1)?.message,
      terminate: () => {
        port1.close();
        void worker.terminate();
      },
    };
  },
  search: exploreParallel,
};
