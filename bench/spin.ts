// A loop that shares nothing, for the bench's host check (bench/run.ts, hostCeiling).
export function spin(): number {
  let x = 0;
  for (let i = 0; i < 200_000_000; i++) x = (x + Math.imul(i, 7)) | 0;
  return x;
}
