// npm run bench's lapis vmm rows (issue 11 item 4), each beside QEMU+KVM's in-kernel irqchip on the same guest in
// the same run: the exit round trips of an xAPIC MMIO access and an x2APIC MSR access, the round trip of an IPI
// between two vCPUs, all timed by the guest on its TSC (bench/vmm-guest.asm), and apic.flat's wall time. Without
// /dev/kvm every row says "not measured" and why; no number is ever made up.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmUsable, lapisMain, qemu72Binary } from '../src/backends/backends.js';
import { nasmBinary } from '../src/backends/build.js';
import { kutCommand, kutDir, loadKutConfig } from '../src/backends/kut.js';
import { flatElf } from '../src/backends/vmm-image.js';

export interface VmmRow {
  name: string;
  lapis: string;
  qemuKvm: string;
  target: string;
}

/** The guest's lines: `bench: KEY n=N ticks=0x...` and `bench: tsc-per-ms=T`. */
export function parseBench(out: string): { tscPerMs: number | null; perOp: Map<string, number> } {
  const tsc = /bench: tsc-per-ms=(\d+)/.exec(out);
  const perOp = new Map<string, number>();
  for (const m of out.matchAll(/bench: (\w+) n=(\d+) ticks=0x([0-9a-f]{16})/g)) perOp.set(m[1], Number(BigInt(`0x${m[3]}`)) / Number(m[2]));
  return { tscPerMs: tsc ? Number(tsc[1]) : null, perOp };
}

const LIMIT_MS = 900_000;

interface Ran {
  ok: boolean;
  out: string;
  err: string;
  why: string;
  ms: number;
}

function run(file: string, args: string[]): Ran {
  const t0 = performance.now();
  const r = spawnSync(file, args, { encoding: 'latin1', timeout: LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  const exited = r.status !== null && r.status % 2 === 1; // isa-debug-exit: (code << 1) | 1
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`;
  return { ok: exited, out: r.stdout ?? '', err: r.stderr ?? '', why, ms };
}

/** One row's cell: microseconds per operation from the guest's TSC figures, or why not. The TSC's rate is the one
 *  lapis vmm read from KVM (KVM_GET_TSC_KHZ, in its summary line), which is also the rate KVM gives QEMU's vCPUs on
 *  this host; the guest's own PIT calibration only where that is missing (a guest whose exits are slow measures
 *  its PIT window long, so its figure runs high). */
function cell(r: Ran, key: string, div: number, tscKhz: number | null): string {
  if (!r.ok && !r.out.includes(`bench: ${key} `)) return `failed (${r.why})`;
  const { tscPerMs, perOp } = parseBench(r.out);
  const t = perOp.get(key), rate = tscKhz ?? tscPerMs;
  if (t === undefined || !rate) return `not reported (${r.why})`;
  return `${((t / div / rate) * 1000).toFixed(2)} us`;
}

/** lapis vmm's summary: `...; guest TSC N kHz)`. */
export const vmmTscKhz = (stderr: string): number | null => {
  const m = /guest TSC (\d+) kHz/.exec(stderr);
  return m ? Number(m[1]) : null;
};

/** The rows; `n` accesses of each kind per guest run. */
export function vmmBench(n: number): { rows: VmmRow[]; note: string } {
  const rows = (lapis: (k: string) => string, qemu: (k: string) => string, apic: [string, string]): VmmRow[] => [
    { name: 'APIC MMIO exit round trip (guest read of the xAPIC TPR -> lapis -> resume)', lapis: lapis('mmio'), qemuKvm: qemu('mmio'), target: '<= 20 us' },
    { name: 'x2APIC MSR exit round trip (RDMSR 0x808)', lapis: lapis('msr'), qemuKvm: qemu('msr'), target: '<= 20 us' },
    { name: 'IPI between two vCPUs (half a ping-pong: fixed IPI, handler, reply, EOIs; target running)', lapis: lapis('ipi'), qemuKvm: qemu('ipi'), target: '' },
    { name: 'apic.flat wall time (x2apic: 2 CPUs, x2APIC + TSC-deadline)', lapis: apic[0], qemuKvm: apic[1], target: 'lapis <= 2x QEMU+KVM' },
  ];
  const k = kvmUsable();
  if (!k.ok) {
    const no = `not measured: ${k.reason}`;
    return { rows: rows(() => no, () => no, [no, no]), note: `no KVM here (${k.reason})` };
  }
  const nasm = nasmBinary();
  if (!nasm) {
    const no = 'not measured: nasm not found';
    return { rows: rows(() => no, () => no, [no, no]), note: 'nasm not found' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'lapis-bench-vmm-'));
  try {
    const bin = join(dir, 'guest.bin'), elf = join(dir, 'guest.elf');
    const asm = spawnSync(nasm, ['-f', 'bin', `-DN=${n}`, '-o', bin, join(process.cwd(), 'bench/vmm-guest.asm')], { encoding: 'utf8' });
    if (asm.status !== 0) throw new Error(`nasm bench/vmm-guest.asm: ${asm.stderr}`);
    writeFileSync(elf, flatElf(new Uint8Array(readFileSync(bin)), 0x100000));
    const lapis = run(process.execPath, [lapisMain(), 'vmm', elf, '--cpus', '2', '--mem', '64', '--cpu-features', 'x2apic,tsc-deadline']);
    const qemuBin = qemu72Binary();
    const qemu: Ran = qemuBin
      ? run(qemuBin, ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'pc,accel=kvm,kernel-irqchip=on', '-cpu', 'qemu64,+x2apic,+tsc-deadline',
        '-smp', '2', '-m', '64', '-kernel', elf, '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x4', '-no-reboot'])
      : { ok: false, out: '', err: '', why: 'qemu-system-x86_64 not found', ms: 0 };
    const khz = vmmTscKhz(lapis.err);
    const ipi = (r: Ran) => (key: string) => cell(r, key, key === 'ipi' ? 2 : 1, khz);
    return { rows: rows(ipi(lapis), ipi(qemu), apicFlat(dir, qemuBin)), note: `${n} accesses of each kind` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** apic.flat as issue 11 runs it (x2apic: 2 CPUs, x2APIC and TSC-deadline, TEST_DEVICE=0) on both. */
function apicFlat(dir: string, qemuBin: string | null): [string, string] {
  const flat = join(kutDir(), 'x86/apic.flat');
  if (!existsSync(flat)) return [`not measured: no ${flat} (npm run setup)`, `not measured: no ${flat}`];
  const env = join(dir, 'env');
  writeFileSync(env, 'TEST_DEVICE=0\n');
  const summary = (r: Ran): string => {
    const s = /SUMMARY: (.*)/.exec(r.out);
    return `${(r.ms / 1000).toFixed(2)} s (${s ? s[1].trim() : r.why})`;
  };
  const lapis = run(process.execPath, [lapisMain(), 'vmm', flat, '--cpus', '2', '--cpu-features', 'x2apic,tsc-deadline', '--initrd', env, '--timeout', String(LIMIT_MS / 1000)]);
  const cfg = loadKutConfig();
  const x2apic = cfg.ok ? cfg.tests.get('x2apic') : undefined;
  const qemu = !qemuBin ? 'not measured: qemu-system-x86_64 not found' : !x2apic ? 'not measured: no unittests.cfg entry x2apic'
    : summary(run(qemuBin, kutCommand(x2apic, { binary: qemuBin, dataDirs: [], accel: 'kvm' }, flat, env)));
  return [summary(lapis), qemu];
}

/** The markdown table. */
export function vmmTable(rows: VmmRow[]): string {
  return ['| benchmark | lapis vmm | QEMU+KVM (in-kernel irqchip) | target |', '|---|---|---|---|', ...rows.map((r) => `| ${r.name} | ${r.lapis} | ${r.qemuKvm} | ${r.target} |`)].join('\n');
}
