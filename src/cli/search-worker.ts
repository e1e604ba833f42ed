// A thread of parallel searches (src/explore/parallel.ts): kept by src/cli/threads.ts between searches, it runs each
// share it is sent and sends the result back on the port that came with it.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { exploreShare, type ShareData } from '../explore/parallel.js';

parentPort!.on('message', ({ data, port }: { data: ShareData; port: MessagePort }) => {
  exploreShare(data, (result) => {
    // The transitions are the bulk of it: moved, not copied.
    port.postMessage(result, [result.edges.buffer as ArrayBuffer]);
    port.close();
  });
});
