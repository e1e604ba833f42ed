// The bench's host check (bench/run.ts, hostCeiling): runs `spin` each time the calling thread raises the go word.
import { workerData } from 'node:worker_threads';
import { spin } from './spin.js';

const flags = workerData as Int32Array;
Atomics.store(flags, 2, 1);
Atomics.notify(flags, 2);
for (let round = 1; ; round++) {
  Atomics.wait(flags, 0, round - 1);
  flags[3] = spin();
  Atomics.store(flags, 1, round);
  Atomics.notify(flags, 1);
}
