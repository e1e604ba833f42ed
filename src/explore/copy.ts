// Copying words between typed arrays on the search's hot path. `%TypedArray%.prototype.set` called through a
// constant: in Node 20's V8, `array.set(...)` reads `set` with a generic property load (a LoadIC call) even where the
// array's type never changes, and the explorer copies five times a step.

type Words = Int32Array | Uint32Array;

const typedArraySet = (Object.getPrototypeOf(Int32Array.prototype) as { set: (this: Words, src: Words, offset?: number) => void }).set;

/** dst.set(src, offset). */
export function copyWords(dst: Words, src: Words, offset = 0): void {
  typedArraySet.call(dst, src, offset);
}
