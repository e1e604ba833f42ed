// A fast 53-bit hash of a word array: two independent 32-bit lanes (MurmurHash3's per-block mixing with
// different seeds), finalised and combined. 53 bits keep it a plain JavaScript number for Map/Set keys; the
// expected collision count among a billion states is about 0.06.

const C1 = 0xcc9e2d51, C2 = 0x1b873593, C3 = 0x85ebca6b, C4 = 0xc2b2ae35;

/** MurmurHash3's finaliser (an unsigned 32-bit result). */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, C3);
  h ^= h >>> 13;
  h = Math.imul(h, C4);
  return (h ^ (h >>> 16)) >>> 0;
}

export function hashWords(a: Uint32Array, length = a.length): number {
  let h1 = 0x9747b28c ^ length, h2 = 0x1b873593 + length;
  for (let i = 0; i < length; i++) {
    let k = Math.imul(a[i], C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    h2 = (Math.imul(h2 ^ k, 0x2f0a7a4b) + (k >>> 7)) | 0;
    h2 = (h2 << 11) | (h2 >>> 21);
  }
  return fmix(h1) * 0x200000 + (fmix(h2) >>> 11);
}
