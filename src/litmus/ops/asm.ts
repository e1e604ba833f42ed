// Small helpers of the guest compiler's NASM emission that op modules share.

/** A NASM hex literal. */
export function asmHex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** A readable NASM identifier from a litmus name. */
export function asmIdent(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_');
}
