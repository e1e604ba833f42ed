/**
 * Host misuse of the model (a bad CPU index, a vector above 255, a state buffer of the wrong size).
 * Guest misuse never throws: it gets the architectural answer (#GP, an ESR bit, an ignored write).
 */
export class HostError extends Error {
  override readonly name = 'HostError';
  constructor(
    readonly code: 'bad-cpu' | 'bad-vector' | 'bad-argument' | 'bus-full' | 'bad-snapshot',
    message: string,
  ) {
    super(message);
  }
}

export function checkVector(v: number, what = 'vector'): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new HostError('bad-vector', `${what} must be an integer 0..255, got ${v}`);
}

export function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new HostError('bad-argument', `${what} must be an integer 0..0xffffffff, got ${v}`);
}
