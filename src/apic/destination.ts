// Destination matching on the receiving side: does this APIC accept a message with this destination? Pure functions
// of the APIC's ID, LDR and DFR words, so the bus and the assists ask the same question the APIC does.

/** SDM Vol 3A 11.6.2.1 Physical Destination Mode; SDM Vol 3A 11.12.10 (x2APIC: the 32-bit ID). */
export function matchesPhysical(id: number, x2apic: boolean, destination: number): boolean {
  if (x2apic) return destination >>> 0 === id;
  // An x2APIC ID above 0xFF does not fit the 8-bit xAPIC ID: no xAPIC destination names it (decision D-37).
  return id <= 0xff && (destination & 0xff) === id;
}

/** SDM Vol 3A 11.12.10.2 Deriving Logical x2APIC ID from the Local x2APIC ID: cluster ID[19:4], bit ID[3:0]. */
export function derivedX2apicLdr(id: number): number {
  return (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
}

/**
 * SDM Vol 3A 11.6.2.2 Logical Destination Mode: flat model (DFR[31:28] = 1111b) matches when LDR[31:24] AND
 * MDA is non-zero; cluster model (0000b) matches when MDA[7:4] equals LDR[31:28] (or is 0xF, all clusters)
 * and MDA[3:0] AND LDR[27:24] is non-zero. SDM Vol 3A 11.12.10.1: in x2APIC mode MDA[31:16] names the
 * cluster and MDA[15:0] the members (`ldr` is then the derived x2APIC LDR, 11.12.10.2).
 */
export function matchesLogical(ldr: number, dfr: number, x2apic: boolean, destination: number): boolean {
  if (x2apic) return destination >>> 16 === ldr >>> 16 && (destination & ldr & 0xffff) !== 0;
  const mda = destination & 0xff, ldr8 = ldr >>> 24;
  if ((dfr >>> 28) === 0xf) return (mda & ldr8) !== 0;
  const cluster = mda >>> 4;
  return (cluster === 0xf || cluster === ldr8 >>> 4) && (mda & ldr8 & 0xf) !== 0;
}
