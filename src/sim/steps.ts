// The simulator's steps: a CPU's next op or event, an agent's next op, a message's arrival, or time passing,
// packed in one number (kind in the low 2 bits, index above).

export enum StepKind {
  CPU = 0,
  AGENT = 1,
  DELIVER = 2,
  TIME = 3,
}
export function stepKind(s: number): StepKind {
  return (s & 3) as StepKind;
}
export function stepIndex(s: number): number {
  return s >>> 2;
}
export const step = (k: StepKind, i: number): number => (i << 2) | k;
/** The step that lets time pass. */
export const TIME_STEP = step(StepKind.TIME, 0);

export class SimError extends Error {
  override readonly name: string = 'SimError';
}

/** The test needs a feature the profile's implementation does not offer (x2APIC under QEMU TCG 7.2). */
export class UnsupportedError extends SimError {
  override readonly name = 'UnsupportedError';
}
