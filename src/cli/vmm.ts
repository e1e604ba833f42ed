// lapis vmm IMAGE: boot a multiboot ELF (kvm-unit-tests' .flat files) or a Linux bzImage on KVM with lapis as the
// only interrupt controller (docs/vmm.md). Guest serial output goes to stdout; the exit status is the guest's
// isa-debug-exit status ((code << 1) | 1, as QEMU reports it) or one of the VMM's own (even) statuses. The image is
// read and checked before KVM is opened, so a bad image is a usage error (2) on any machine.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { MAX_MEM_MIB, runVmm } from '../vmm/vm.js';
import { Status } from '../vmm/status.js';

export const VMM_EXIT_HELP = `
Exit status:
  odd  the guest's isa-debug-exit: (code << 1) | 1, as QEMU reports it
  0    the guest stopped otherwise (a shutdown system event)
  2    usage: a bad option, a missing or malformed image or initrd
  4    KVM is not usable here (no /dev/kvm or $LAPIS_KVM_DEVICE, a capability missing, koffi not installed)
  6    the guest touched a port or address where lapis-vmm emulates no device
  8    a triple fault, or KVM could not run or emulate the guest
  10   an SMI without SMM in KVM, or an INIT to the BSP (no firmware to reset to)
  124  --timeout passed
  130  interrupted (Ctrl-C)`;

const FEATURES = ['x2apic', 'tsc-deadline'] as const;
const DEVICES = ['edu'] as const;

function range(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new InvalidArgumentError(`${name} must be an integer ${lo}..${hi}`);
    return n;
  };
}

function features(v: string): string[] {
  const list = v.split(',').map((s) => s.trim()).filter((s) => s);
  for (const f of list) if (!(FEATURES as readonly string[]).includes(f)) throw new InvalidArgumentError(`unknown CPU feature '${f}' (known: ${FEATURES.join(', ')})`);
  return list;
}

function devices(v: string, prev: string[]): string[] {
  if (!(DEVICES as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown device '${v}' (known: ${DEVICES.join(', ')})`);
  return [...prev, v];
}

function readInput(file: string, what: string): Uint8Array | string {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    return `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

export function registerVmm(program: Command): void {
  program
    .command('vmm')
    .description('boot a multiboot ELF or Linux bzImage on KVM with lapis as its local APICs and I/O APIC')
    .argument('<image>', 'a multiboot ELF (kvm-unit-tests .flat) or a Linux bzImage')
    .option('--cpus <n>', 'vCPUs (1..64)', range('--cpus', 1, 64), 1)
    .option('--mem <MiB>', `guest RAM in MiB (2..${MAX_MEM_MIB})`, range('--mem', 2, MAX_MEM_MIB), 128)
    .option('--cpu-features <list>', `CPUID features the APICs offer: ${FEATURES.join(',')} (default none)`, features, [])
    .option('--initrd <file>', 'the first multiboot module, or the Linux initrd')
    .option('--append <args>', 'the kernel command line')
    .option('--timeout <s>', 'stop a guest still running after this many seconds', range('--timeout', 1, 86400))
    .option('--trace', 'print the APIC traffic (vCPU, access, register, value, time) on stderr')
    .option('--device <name>', "an extra device: edu (QEMU's edu on PCI bus 0, for guests that send MSIs through it)", devices, [])
    .addHelpText('after', VMM_EXIT_HELP)
    .action(async (image: string, o: { cpus: number; mem: number; cpuFeatures: string[]; initrd?: string; append?: string; timeout?: number; trace?: boolean; device: string[] }) => {
      const img = readInput(image, 'image');
      const initrd = o.initrd === undefined ? undefined : readInput(o.initrd, 'initrd');
      for (const x of [img, initrd]) {
        if (typeof x === 'string') {
          console.error(`lapis vmm: ${x}`);
          process.exitCode = Status.USAGE;
          return;
        }
      }
      let interrupt: () => void = () => {};
      const interrupted = new Promise<void>((r) => (interrupt = r));
      process.on('SIGINT', interrupt);
      try {
        const r = await runVmm({
          image: img as Uint8Array, name: basename(image), cpus: o.cpus, memMiB: o.mem,
          x2apic: o.cpuFeatures.includes('x2apic'), tscDeadline: o.cpuFeatures.includes('tsc-deadline'),
          initrd: initrd as Uint8Array | undefined, append: o.append, timeoutS: o.timeout, trace: o.trace === true, interrupted, edu: o.device.includes('edu'),
          kvmPath: process.env.LAPIS_KVM_DEVICE,
        });
        const counts = Object.entries(r.exits).map(([k, v]) => `${k} ${v}`).join(', ');
        const tsc = r.tscKhz ? `; guest TSC ${r.tscKhz} kHz` : '';
        console.error(`lapis vmm: ${r.reason}${r.ms ? ` after ${(r.ms / 1000).toFixed(2)} s` : ''}${counts ? ` (exits: ${counts}${tsc})` : ''}`);
        process.exitCode = r.status;
      } finally {
        process.off('SIGINT', interrupt);
      }
    });
}
