// The scaling test of the explorer benchmark: N-CPU bring-up under SMIs. The BSP sends INIT-SIPI-SIPI to
// each AP in turn; a platform agent sends one SMI to every AP; each AP idles in a HLT loop (firmware parked it
// there, with an SMBASE of its own, so no two APs share a state-save map: decision D-26), its SIPI code sets its
// flag and idles again, and its SMM handler only does RSM. With `resend`, after a wait the BSP resends a SIPI to
// every AP whose flag is still clear, and every AP boots; without it (the naive protocol), an AP can be left in
// wait-for-SIPI: its SIPIs arrived while it was in SMM, or before it took its INIT.

export function bringupLitmus(aps: number, resend: boolean): string {
  const ids = Array.from({ length: aps }, (_, i) => i + 1);
  const lines: string[] = [
    `lapis bringup-${aps}${resend ? '' : '-naive'}`,
    `"${aps} APs started with INIT-SIPI-SIPI while a platform agent sends each an SMI${resend ? '; the BSP resends a SIPI to APs that have not booted' : ' (naive: no resend)'}."`,
    '',
    'config {',
    `  cpus = ${aps + 1}`,
    '}',
    '',
    'init {',
    ...ids.map((k) => `  booted${k} = 0`),
    ...ids.map((k) => `  P${k}.activity = halted`),
    ...ids.map((k) => `  P${k}.smbase = 0x${(0x40000 + k * 0x1000).toString(16)}`),
    '}',
    '',
    'P0 {',
  ];
  for (const k of ids) lines.push(`  send init -> P${k}`, `  send sipi 0x10 -> P${k}`, `  send sipi 0x10 -> P${k}`);
  if (resend) {
    lines.push('  wait 100');
    for (const k of ids) lines.push(`  load r1 = booted${k}`, `  if r1 == 1 goto skip${k}`, `  send sipi 0x10 -> P${k}`, `skip${k}:`);
  }
  lines.push('}', '', 'D0 {', ...ids.map((k) => `  smi -> P${k}`), '}', '');
  for (const k of ids) lines.push(`P${k} on sipi {`, `  store booted${k} = 1`, '}', '', `P${k} on smi {`, '  rsm', '}', '');
  const all = ids.map((k) => `booted${k} = 1`).join(' /\\ ');
  lines.push(resend ? `forall (${all})` : `exists (~(${all}))`);
  return lines.join('\n') + '\n';
}
