// --shard i/n: the i-th of n slices of a suite's files (sorted by name; file k goes to shard k mod n + 1), so that
// n machines (a CI matrix, indexed jobs) together run every file once.
import { UsageError } from './errors.js';
import type { Shard } from '../backends/cli.js';

export { inShard, type Shard } from '../backends/cli.js';

export function parseShard(s: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`--shard ${s}: expected I/N with 1 <= I <= N (e.g. 2/4)`);
  return { index, count };
}
