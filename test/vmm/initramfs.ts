// A Linux initramfs for the boot test: a newc cpio archive (Documentation/driver-api/early-userspace/buffer-format.rst:
// "070701", thirteen 8-digit hex fields, the name with its NUL padded to 4 bytes, the data padded to 4, a TRAILER!!!
// entry) holding a static busybox and an init script that reports what the kernel found and leaves through
// isa-debug-exit.

export interface CpioEntry {
  name: string;
  /** File data; undefined for a directory. */
  data?: Uint8Array;
  executable?: boolean;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

export function newc(entries: CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const push = (e: CpioEntry, ino: number): void => {
    const name = enc.encode(e.name + '\0');
    const data = e.data ?? new Uint8Array(0);
    const mode = e.data === undefined ? 0o040755 : e.executable ? 0o100755 : 0o100644;
    const fields = [ino, mode, 0, 0, e.data === undefined ? 2 : 1, 0, data.length, 0, 0, 0, 0, name.length, 0];
    const header = enc.encode('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''));
    parts.push(header, name, new Uint8Array(pad4(header.length + name.length)), data, new Uint8Array(pad4(data.length)));
  };
  entries.forEach((e, i) => push(e, i + 1));
  push({ name: 'TRAILER!!!', data: new Uint8Array(0) }, 0);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Lines the init script prints: `LAPIS-INIT cpus=N clocksource=NAME uptime=S`, /proc/interrupts, `LAPIS-INIT-END`. */
export const INIT_SCRIPT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
echo "LAPIS-INIT cpus=$($B grep -c ^processor /proc/cpuinfo) clocksource=$($B cat /sys/devices/system/clocksource/clocksource0/current_clocksource) uptime=$($B cut -d' ' -f1 /proc/uptime)"
$B cat /proc/interrupts
echo LAPIS-INIT-END
$B sleep 10
printf '\\000' | $B dd of=/dev/port bs=1 seek=244 count=1
`;

/** The initramfs: /init (INIT_SCRIPT), /bin/busybox, and the directories it mounts on. */
export function bootInitramfs(busybox: Uint8Array): Uint8Array {
  return newc([
    { name: 'bin' }, { name: 'dev' }, { name: 'proc' }, { name: 'sys' },
    { name: 'bin/busybox', data: busybox, executable: true },
    { name: 'init', data: new TextEncoder().encode(INIT_SCRIPT), executable: true },
  ]);
}

/** What the init script reported: CPUs online, the clocksource, and /proc/interrupts' rows by name. */
export function parseInitReport(out: string): { cpus: number; clocksource: string; rows: Map<string, { counts: number[]; what: string }> } | null {
  const m = /LAPIS-INIT cpus=(\d+) clocksource=(\S+)/.exec(out);
  if (!m) return null;
  const cpus = Number(m[1]);
  const rows = new Map<string, { counts: number[]; what: string }>();
  const end = out.indexOf('LAPIS-INIT-END', m.index);
  for (const line of out.slice(m.index, end >= 0 ? end : undefined).split('\n').slice(1)) {
    const r = /^\s*(\w+):((?:\s+\d+)+)\s*(.*)$/.exec(line.replace(/\r/g, ''));
    if (r) rows.set(r[1], { counts: r[2].trim().split(/\s+/).map(Number), what: r[3] });
  }
  return { cpus, clocksource: m[2], rows };
}
