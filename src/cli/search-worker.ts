// A thread of a parallel search (src/explore/parallel.ts): runs its share and sends the result back.
import { workerData, type MessagePort } from 'node:worker_threads';
import { exploreShare, type ShareData } from '../explore/parallel.js';

const { data, port } = workerData as { data: ShareData; port: MessagePort };
exploreShare(data, (result) => {
  port.postMessage(result);
  port.close();
});
