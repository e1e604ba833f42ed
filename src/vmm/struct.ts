// Little-endian access to KVM's structs in byte buffers (offsets from src/vmm/abi.ts).

export function u64(b: Uint8Array, at: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x100000000;
}
export function setU64(b: Uint8Array, at: number, x: number | bigint): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(at, BigInt.asUintN(64, BigInt(x)), true);
}
export function u32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
}
export function setU32(b: Uint8Array, at: number, x: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, x >>> 0, true);
}
export function u16(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(at, true);
}
export function setU16(b: Uint8Array, at: number, x: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint16(at, x, true);
}
