// The real machines a litmus guest runs on (docs/conformance.md): QEMU 7.2 TCG, QEMU 10 TCG (bookworm-backports,
// unpacked by scripts/setup.sh), QEMU 7.2 with KVM in three irqchip modes, Bochs 2.7 with an Intel CPU model
// (VMX) and an AMD one (SVM, docs/nested.md), and `lapis vmm`: KVM with lapis as the APICs (docs/vmm.md). Each backend says whether
// it is available here (and why not), which architectural features it offers a guest, and how to boot an image.
// Everything here is argument arrays: nothing goes through a shell.

import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kvmAvailable as vmmKvmAvailable } from '../vmm/kvm.js';
import { stage2Elf } from './vmm-image.js';

export const BACKEND_NAMES = ['qemu-tcg', 'qemu10-tcg', 'qemu-kvm', 'qemu-kvm-split', 'qemu-kvm-off', 'bochs', 'bochs-svm', 'lapis-vmm'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export type Availability = { ok: true } | { ok: false; reason: string };

/** A feature a backend offers a guest: supported, or not with the reason (printed per test and backend). */
export type Support = { ok: true } | { ok: false; reason: string };

export interface Features {
  /** x2APIC mode (CPUID.1:ECX[21] and the IA32_APIC_BASE EXTD transition). */
  x2apic: Support;
  /** Where x2apic is ok: the backend can boot CPUs without it in CPUID, for a test with `x2apic = false` that
   *  touches x2APIC (MachineRequest.x2apic false). */
  x2apicHidden: Support;
  /** SMM: SMIs enter SMM at SMBASE + 0x8000 and RSM returns. */
  smm: Support;
  /** The TSC-deadline timer mode (CPUID.1:ECX[24], IA32_TSC_DEADLINE). */
  tscDeadline: Support;
  /** Returning from an interrupt ends NMI blocking, as IRET does. On a kvm_pvm host KVM's emulator has no
   *  protected-mode IRET: the guest (LAPIS_SOFT_IRET) returns with POPFD; RETF and ends NMI blocking with a
   *  real-mode IRET, so this is ok there too. A backend where it is not ok runs one run per boot (the end-of-test
   *  ping is an NMI) and refuses tests with NMIs. */
  iret: Support;
  /** A device the guest can use to drive I/O APIC input pins (QEMU's pc-testdev: ISA IRQ lines 0-15). */
  irqLines: Support;
  /** A device the guest can make send an MSI with an address and data of its choosing (QEMU's edu). */
  msi: Support;
  /** The I/O APIC's version: 0x20 has the EOI register (QEMU's, hw/intc/ioapic.c IOAPIC_VER_DEF), 0x11 not (KVM's
   *  in-kernel one, virt/kvm/ioapic.h IOAPIC_VERSION_ID; Bochs's, iodev/ioapic.h BX_IOAPIC_VERSION_ID). */
  ioapicVersion: 0x11 | 0x20;
  /** Intel VMX (CPUID.1:ECX.VMX, VMXON ... VMXOFF) with the wait-for-SIPI guest activity state: the guest's own
   *  L1 hypervisor runs nested tests (docs/nested.md). */
  vmx: Support;
  /** AMD SVM (CPUID Fn8000_0001:ECX.SVM, VMRUN, the INIT intercept): the L1 of `vendor = amd` nested tests. */
  svm: Support;
  /** VMX "use TPR shadow" (the TPR threshold, TPR-below-threshold VM exits). */
  tprShadow: Support;
  /** VMX virtual-interrupt delivery (RVI/SVI, the EOI-exit bitmap, virtual EOIs). */
  vid: Support;
  /** An SMI to the BSP enters SMM at an SMBASE the guest can install code at (the firmware left its SMRAM open). */
  smiToBsp: Support;
  /** The APIC timer, the TSC and the guest's instructions advance on one clock that the host cannot stretch: a
   *  run's timer tests give the outcome of the ops' ticks, never of the host's delays (timer-plan.ts). */
  guestClock: Support;
  /** CPUs the guest starts without (an empty slot, `Pn.activity = unplugged`) and, while it runs, CPUs hot-added in
   *  them (QEMU: cold-plugged `-device` CPUs around the hole, QMP `device_add` when the guest asks). */
  cpuHotplug: Support;
}

/** What a test asks of the machine it boots. */
export interface MachineRequest {
  cpus: number;
  /** q35 with smm=on (QEMU) when the test has SMIs; otherwise the i440fx `pc` machine. */
  smm?: boolean;
  memMiB?: number;
  /** The test drives I/O APIC pins: QEMU gets `-device pc-testdev`. */
  irqLines?: boolean;
  /** The test sends device MSIs: QEMU gets `-device edu`. */
  msi?: boolean;
  /** false: the test's CPUs have no x2APIC (`x2apic = false`) and it touches x2APIC: CPUID must not offer it. */
  x2apic?: boolean;
  /** The test's outcome turns on the APIC timer against its ops (needs.timerTiming): QEMU TCG runs it with
   *  -icount, so the timer and the TSC follow the instructions executed. */
  guestClock?: boolean;
  /** APIC IDs of slots that start empty (`Pn.activity = unplugged`). */
  unplugged?: number[];
  /** The guest asks the host to hot-add CPUs (`lapis: hotplug=N`): the emulator gets a QMP socket. */
  hotplug?: boolean;
}

/** One process to spawn: the program, its arguments, its extra environment and files to create in the run's
 *  temporary directory first (Bochs's configuration). `image` is the disk image's path inside that directory. */
export interface Launch {
  file: string;
  args: string[];
  env: Record<string, string>;
  files: Record<string, string | Uint8Array>;
  /** The QMP socket the emulator listens on (in the run's temporary directory), for hot-plug. */
  qmp?: string;
}

export interface Backend {
  name: BackendName;
  description: string;
  available(): Availability;
  features(): Features;
  /** The most CPUs a guest may have here (null: the runtime's own limit), and why. */
  maxCpus: { cpus: number; reason: string } | null;
  /** The emulator's version line (asked once per process). */
  version(): string;
  /** NASM -D defines this backend's guests need (LAPIS_SOFT_IRET under KVM on a kvm_pvm host). */
  asmDefines(): string[];
  /** The command line that boots `image` (a path in `dir`, the run's temporary directory). */
  launch(image: string, dir: string, req: MachineRequest): Launch;
}

/** Bochs 2.7 (Debian) panics at boot with 16 CPUs or more. */
const BOCHS_MAX_CPUS = { cpus: 15, reason: 'Bochs 2.7 here panics beyond 15 ("register_timer: too many registered timers")' };

const OK: Support = { ok: true };
const no = (reason: string): Support => ({ ok: false, reason });

// ---- host probes (memoised: each is asked once per process) -----------------------------------------------------

/** The first executable `name` on PATH, or null. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function qemu72Binary(): string | null {
  return process.env.LAPIS_QEMU ?? which('qemu-system-x86_64');
}

export function qemu10Dir(): string {
  return process.env.LAPIS_QEMU10_DIR ?? '/opt/lapis/qemu-10';
}

export function qemu10Binary(): string {
  return join(qemu10Dir(), 'usr/bin/qemu-system-x86_64');
}

export function bochsBinary(): string | null {
  return process.env.LAPIS_BOCHS ?? which('bochs-bin');
}

/** The first line of a program's output that matches `pattern`, or 'unknown'. */
function versionLine(file: string | null, args: string[], pattern: RegExp): string {
  if (!file) return 'unknown';
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return text.split('\n').map((l) => l.trim()).find((l) => pattern.test(l)) ?? 'unknown';
}

const memo = new Map<string, unknown>();
function once<T>(key: string, f: () => T): T {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key) as T;
}

/** /dev/kvm (or LAPIS_KVM_DEVICE, which tests point elsewhere to see the no-KVM path) opens read-write. */
export function kvmUsable(): Availability {
  return once('kvm', (): Availability => {
    const dev = process.env.LAPIS_KVM_DEVICE ?? '/dev/kvm';
    if (!existsSync(dev)) return { ok: false, reason: `no ${dev}` };
    try {
      closeSync(openSync(dev, 'r+'));
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `${dev} cannot be opened: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
    }
  });
}

/** The host's KVM is kvm_pvm (a PVM host): it runs a 32-bit guest through KVM's instruction emulator, which has
 *  no protected-mode IRET ("emulation failure" at the first IRET): guests are assembled with LAPIS_SOFT_IRET. */
export function kvmIsPvm(): boolean {
  return once('pvm', () => existsSync('/sys/module/kvm_pvm'));
}

/** Whether QEMU 7.2 can start a KVM machine with smm=on here (KVM_CAP_X86_SMM): QEMU says "System Management Mode
 *  not supported by this hypervisor" and exits when the capability is 0. */
export function kvmSmm(): Support {
  return once('kvm-smm', (): Support => {
    const qemu = qemu72Binary();
    if (!qemu || !kvmUsable().ok) return no('KVM is not available');
    const r = spawnSync(
      qemu,
      ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'pc,accel=kvm,smm=on', '-S', '-qmp', 'stdio'],
      { input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n', encoding: 'utf8', timeout: 10000, killSignal: 'SIGKILL' },
    );
    const err = `${r.stderr ?? ''}`;
    if (/System Management Mode not supported/.test(err)) return no('KVM here has no SMM (KVM_CAP_X86_SMM = 0): QEMU refuses smm=on');
    if (r.status !== 0) return no(`QEMU with KVM and smm=on failed: ${err.trim().split('\n').pop() ?? r.status}`);
    return OK;
  });
}

// ---- QEMU ------------------------------------------------------------------------------------------------------

interface QemuFlavor {
  binary: () => string | null;
  /** -L data directories (QEMU 10's own firmware first). */
  dataDirs: () => string[];
  accel: 'tcg' | 'kvm';
  irqchip?: 'on' | 'split' | 'off';
  cpu: string;
}

/** QEMU's x86 CPU device for the `-cpu` model (a `-cpu` feature list applies to it as global properties). */
const qemuCpuDevice = (f: QemuFlavor): string => `${f.cpu.split(',')[0]}-x86_64-cpu`;

/** -smp and the CPUs around empty slots: with a slot empty at the start, QEMU boots the BSP alone (one socket a
 *  CPU, so that socket-id is the APIC ID, hw/i386/x86.c x86_topo_ids_from_idx) and the other present CPUs as
 *  cold-plugged devices; the empty slots are hot-added later (QMP device_add, run.ts). */
function qemuSmp(f: QemuFlavor, req: MachineRequest): string[] {
  const holes = req.unplugged ?? [];
  if (holes.length === 0) return ['-smp', String(req.cpus)];
  const args = ['-smp', `1,maxcpus=${req.cpus},sockets=${req.cpus},cores=1,threads=1`];
  for (let id = 1; id < req.cpus; id++) if (!holes.includes(id)) args.push('-device', `${qemuCpuDevice(f)},socket-id=${id},core-id=0,thread-id=0`);
  return args;
}

/** The QMP device_add arguments that hot-add the CPU of APIC ID `id` (qemuSmp's topology). */
export function qmpCpuAdd(b: BackendName, id: number): Record<string, unknown> {
  const f = QEMU_FLAVORS.get(b);
  if (!f) throw new Error(`${b}: no QEMU CPU hot-plug`);
  return { driver: qemuCpuDevice(f), id: `lapis-cpu${id}`, 'socket-id': id, 'core-id': 0, 'thread-id': 0 };
}

function qemuLaunch(f: QemuFlavor, image: string, dir: string, req: MachineRequest): Launch {
  const bin = f.binary();
  if (!bin) throw new Error('QEMU binary not found');
  // SMM tests get q35 with smm=on (SMRAM, as firmware sets it up); others the i440fx pc without SMRAM. Under TCG
  // the CPUs take SMIs either way; KVM without KVM_CAP_X86_SMM refuses smm=on (features().smm says so first).
  let machine = `${req.smm ? 'q35' : 'pc'},accel=${f.accel}`;
  if (req.smm) machine += ',smm=on';
  else if (f.accel === 'tcg') machine += ',smm=off';
  if (f.irqchip) machine += `,kernel-irqchip=${f.irqchip}`;
  const args: string[] = [];
  for (const d of f.dataDirs()) args.push('-L', d);
  args.push(
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-nic', 'none',
    '-machine', machine,
    // A test whose CPUs have no x2APIC gets it taken out of CPUID (target/i386/cpu.c: `-x2apic` clears
    // CPUID.1:ECX[21]; the APIC then refuses EXTD, hw/intc/apic.c apic_set_base_check).
    '-cpu', req.x2apic === false ? `${f.cpu.replace(/,\+x2apic/, '')},-x2apic` : f.cpu,
    ...qemuSmp(f, req),
    '-m', String(req.memMiB ?? 64),
    '-drive', `file=${image},format=raw,if=ide,index=0,media=disk`,
    '-debugcon', 'stdio',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-no-reboot',
  );
  // pc-testdev (hw/misc/pc-testdev.c): port 0x2000 + n sets ISA IRQ line n; edu (hw/misc/edu.c): a PCI device
  // whose MSI the guest programs and raises (guest/ioapic.asm).
  // -icount (docs/conformance.md, "The APIC timer"): QEMU_CLOCK_VIRTUAL, which the APIC timer (hw/intc/apic.c
  // apic_timer_update) and the TSC (target/i386 cpu_get_tsc) read, counts 2^7 ns per instruction executed (so QEMU's round-robin kick, every 100 ms of that clock, comes after 0.8M instructions of a vCPU that spins waiting for another), and
  // sleep=off never lets it run on while the vCPUs wait; the vCPUs then share one thread, round robin.
  if (req.guestClock && f.accel === 'tcg') args.push('-icount', 'shift=7,sleep=off');
  if (req.irqLines) args.push('-device', 'pc-testdev');
  if (req.msi) args.push('-device', 'edu');
  if (!req.hotplug) return { file: bin, args, env: {}, files: {} };
  const qmp = join(dir, 'qmp.sock');
  args.push('-qmp', `unix:${qmp},server=on,wait=off`);
  return { file: bin, args, env: {}, files: {}, qmp };
}

const QEMU_FLAVORS = new Map<BackendName, QemuFlavor>();

function qemuBackend(
  name: BackendName,
  description: string,
  flavor: QemuFlavor,
  available: () => Availability,
  features: () => Features,
): Backend {
  QEMU_FLAVORS.set(name, flavor);
  return {
    name,
    description,
    available,
    features,
    maxCpus: null,
    version: () => once(`version:${name}`, () => versionLine(flavor.binary(), ['--version'], /^QEMU emulator version/)),
    asmDefines: () => (flavor.accel === 'kvm' && kvmIsPvm() ? ['LAPIS_SOFT_IRET'] : []),
    launch: (image, dir, req) => qemuLaunch(flavor, image, dir, req),
  };
}

const qemu72Available = (): Availability =>
  qemu72Binary() ? { ok: true } : { ok: false, reason: 'qemu-system-x86_64 not found (npm run setup installs qemu-system-x86)' };

const qemu10Available = (): Availability =>
  executable(qemu10Binary())
    ? { ok: true }
    : { ok: false, reason: `${qemu10Binary()} not found (npm run setup unpacks QEMU 10 from bookworm-backports)` };

const kvmAvailable = (): Availability => {
  const q = qemu72Available();
  if (!q.ok) return q;
  return kvmUsable();
};

/** SeaBIOS leaves SMBASE at 0x30000 with SMRAM open to the guest's own SMM entry. */
const QEMU_DEVICES = { irqLines: OK, msi: OK, smiToBsp: OK, cpuHotplug: OK };

const NO_VMX = 'QEMU\'s TCG has no VMX (-cpu qemu64,+vmx: "TCG doesn\'t support requested feature: CPUID.01H:ECX.vmx [bit 5]")';
/** TCG: SVM (qemu64 has CPUID Fn8000_0001:ECX.SVM, as probed: no nRIP save, no AVIC), no VMX. */
const TCG_ASSIST = {
  vmx: no(NO_VMX),
  svm: OK,
  tprShadow: no(`a VMX control: ${NO_VMX}`),
  vid: no(`a VMX control: ${NO_VMX}`),
};
const NO_KVM_NESTED = "KVM guests here get neither VMX nor SVM: this host's KVM (kvm_pvm) offers no nested virtualization, and the KVM backends boot qemu64 without +vmx/+svm";
const KVM_ASSIST = { vmx: no(NO_KVM_NESTED), svm: no(NO_KVM_NESTED), tprShadow: no(NO_KVM_NESTED), vid: no(NO_KVM_NESTED) };

/** QEMU's APIC timer (hw/intc/apic.c apic_timer_update) runs on QEMU_CLOCK_VIRTUAL, which follows the host's clock
 *  unless -icount; under KVM the timer is the host kernel's hrtimer. */
const HOST_CLOCK = no("the APIC timer keeps the host's time while a vCPU thread may be descheduled (QEMU_CLOCK_VIRTUAL follows the host clock)");

/** TCG runs a test that needs it (MachineRequest.guestClock) with -icount (qemuLaunch). */
const ICOUNT = OK;

function kvmFeatures(irqchip: 'on' | 'split' | 'off'): Features {
  return {
    ioapicVersion: irqchip === 'on' ? 0x11 : 0x20,
    x2apicHidden: no('booting KVM CPUs without x2APIC (-cpu ...,-x2apic) was not tried here (no /dev/kvm when it was added)'),
    guestClock: HOST_CLOCK,
    x2apic: OK,
    smm: kvmSmm(),
    tscDeadline: OK,
    // On a kvm_pvm host the guest has no protected-mode IRET (LAPIS_SOFT_IRET) but ends NMI blocking through a
    // real-mode IRET (guest/runtime.asm, lapis_soft_iret), so NMIs behave as with IRETD.
    iret: OK,
    ...QEMU_DEVICES,
    cpuHotplug: no('CPU hot-plug (QMP device_add) under KVM was not tried here (no /dev/kvm when it was added)'),
    ...KVM_ASSIST,
  };
}

const KVM_CPU = 'qemu64,+x2apic,+tsc-deadline';

export const BACKENDS: readonly Backend[] = [
  qemuBackend(
    'qemu-tcg',
    "QEMU 7.2 (Debian bookworm), TCG, QEMU's own local APIC and I/O APIC",
    { binary: qemu72Binary, dataDirs: () => [], accel: 'tcg', cpu: 'qemu64' },
    qemu72Available,
    () => ({
      x2apic: no("QEMU 7.2's TCG has no x2APIC (CPUID.1:ECX[21] is 0; it came with QEMU 8)"),
      x2apicHidden: OK,
      smm: OK,
      tscDeadline: no("QEMU's TCG has no TSC-deadline timer (CPUID.1:ECX[24] is 0)"),
      iret: OK,
      guestClock: ICOUNT,
      ioapicVersion: 0x20,
      ...QEMU_DEVICES,
      ...TCG_ASSIST,
    }),
  ),
  qemuBackend(
    'qemu10-tcg',
    "QEMU 10.0 (bookworm-backports, unpacked under LAPIS_QEMU10_DIR), TCG, QEMU's own APICs",
    {
      binary: () => (executable(qemu10Binary()) ? qemu10Binary() : null),
      dataDirs: () => [join(qemu10Dir(), 'usr/share/qemu'), join(qemu10Dir(), 'usr/share/seabios')],
      accel: 'tcg',
      cpu: 'qemu64,+x2apic',
    },
    qemu10Available,
    () => ({
      x2apic: OK,
      x2apicHidden: OK,
      smm: OK,
      tscDeadline: no("QEMU's TCG has no TSC-deadline timer (QEMU 10: \"TCG doesn't support requested feature\")"),
      iret: OK,
      guestClock: ICOUNT,
      ioapicVersion: 0x20,
      ...QEMU_DEVICES,
      ...TCG_ASSIST,
    }),
  ),
  qemuBackend(
    'qemu-kvm',
    'QEMU 7.2 with KVM: in-kernel local APIC and I/O APIC (kernel-irqchip=on)',
    { binary: qemu72Binary, dataDirs: () => [], accel: 'kvm', irqchip: 'on', cpu: KVM_CPU },
    kvmAvailable,
    () => kvmFeatures('on'),
  ),
  qemuBackend(
    'qemu-kvm-split',
    "QEMU 7.2 with KVM: in-kernel local APIC, QEMU's I/O APIC (kernel-irqchip=split)",
    { binary: qemu72Binary, dataDirs: () => [], accel: 'kvm', irqchip: 'split', cpu: KVM_CPU },
    kvmAvailable,
    () => kvmFeatures('split'),
  ),
  qemuBackend(
    'qemu-kvm-off',
    "QEMU 7.2 with KVM CPUs and QEMU's own APICs (kernel-irqchip=off)",
    { binary: qemu72Binary, dataDirs: () => [], accel: 'kvm', irqchip: 'off', cpu: KVM_CPU },
    () => {
      const k = kvmAvailable();
      if (!k.ok) return k;
      return {
        ok: false,
        reason:
          'QEMU 7.2 hangs in this mode here (no guest output in 20 s, and SIGTERM does not end it; ' +
          'QEMU 10 refuses it: "KVM does not support userspace APIC")',
      };
    },
    () => kvmFeatures('off'),
  ),
  bochsBackend('bochs', 'Bochs 2.7 (Debian bookworm: SMP, SMM, x2APIC), CPU model corei7_skylake_x (VMX)', 'corei7_skylake_x', () => ({
    x2apic: OK,
    x2apicHidden: no("Bochs 2.7's CPU model fixes CPUID (corei7_skylake_x has x2APIC; the cpuid options apply only without a model)"),
    smm: OK,
    tscDeadline: OK,
    iret: OK,
    ...BOCHS_DEVICES,
    // Probed (docs/nested.md): IA32_VMX_MISC bit 8 (wait-for-SIPI), PROCBASED bit 21 (TPR shadow), PROCBASED2 bit 9
    vmx: OK,
    svm: no('corei7_skylake_x is an Intel model (the bochs-svm backend runs the AMD one)'),
    tprShadow: OK,
    vid: OK,
  })),
  bochsBackend('bochs-svm', 'Bochs 2.7, CPU model ryzen (AMD: SVM, no AVIC, no x2APIC)', 'ryzen', () => ({
    x2apic: no("Bochs's ryzen model has no x2APIC (CPUID.1:ECX[21] is 0)"),
    x2apicHidden: OK,
    smm: OK,
    tscDeadline: no("Bochs's ryzen model has no TSC-deadline timer (CPUID.1:ECX[24] is 0)"),
    iret: OK,
    ...BOCHS_DEVICES,
    vmx: no('ryzen is an AMD model (the bochs backend runs the Intel one)'),
    svm: OK,
    tprShadow: no('a VMX control: ryzen is an AMD model (and Bochs 2.7 has no AVIC)'),
    vid: no('a VMX control: ryzen is an AMD model (and Bochs 2.7 has no AVIC)'),
  })),
  lapisVmmBackend(),
];

// ---- Bochs -----------------------------------------------------------------------------------------------------

const BOCHS_DEVICES = {
  // Bochs's clock is its instruction count (`ips`, clock: sync=none by default): the local APIC timer
  // (cpu/apic.cc, bx_pc_system timers), the TSC and the PIT all advance with the instructions executed.
  guestClock: OK,
  irqLines: no('Bochs 2.7 has no device a guest can use to drive an I/O APIC input (no pc-testdev): only its own devices raise IRQs'),
  msi: no('Bochs 2.7 has no PCI device whose MSI a guest can program and raise (no edu device)'),
  smiToBsp: no("Bochs's BIOS (rombios) moved the BSP's SMBASE to 0xA0000, closed SMRAM: the test's SMM code cannot be installed there"),
  ioapicVersion: 0x11 as const,
  cpuHotplug: no("Bochs 2.7 has no CPU hot-plug: its CPUs are the configuration's, all present from reset"),
};

function bochsBackend(name: BackendName, description: string, model: string, features: () => Features): Backend {
  return {
    name,
    description,
    available: () =>
      bochsBinary()
        ? existsSync(BOCHS_BIOS) && existsSync(BOCHS_VGABIOS)
          ? { ok: true }
          : { ok: false, reason: `Bochs BIOS images missing (${BOCHS_BIOS}, ${BOCHS_VGABIOS}): install bochsbios and vgabios` }
        : { ok: false, reason: 'bochs-bin not found (npm run setup installs bochs)' },
    features,
    maxCpus: BOCHS_MAX_CPUS,
    version: () => once('version:bochs', () => versionLine(bochsBinary(), ['--help'], /^Bochs x86 Emulator/)),
    asmDefines: () => [],
    launch: (image, dir, req) => bochsLaunch(image, dir, req, model),
  };
}

export const BOCHS_BIOS = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGABIOS = '/usr/share/vgabios/vgabios.bin';
/** Bochs's instructions per emulated second. Low, so the BIOS's timed waits cost few host cycles (a boot takes
 *  ~0.3 s instead of ~2.4 s at 50M); the guest calibrates its TSC against the PIT, so its waits scale with it. */
export const BOCHS_IPS = 2_000_000;

/** Debian's Bochs is built with the debugger and without the 'nogui' display: it runs the 'term' display (it
 *  needs no terminal: ncurses on its own pty) and a debugger command file that says `c` (continue). */
function bochsLaunch(image: string, dir: string, req: MachineRequest, model: string): Launch {
  const bin = bochsBinary();
  if (!bin) throw new Error('bochs-bin not found');
  const rc = [
    `megs: ${req.memMiB ?? 64}`,
    `romimage: file=${BOCHS_BIOS}`,
    `vgaromimage: file=${BOCHS_VGABIOS}`,
    'display_library: term',
    `ata0-master: type=disk, path="${image}", mode=flat`,
    'boot: disk',
    `log: ${join(dir, 'bochs.log')}`,
    'port_e9_hack: enabled=1',
    `cpu: model=${model}, count=${req.cpus}, ips=${BOCHS_IPS}, reset_on_triple_fault=0`,
    'speaker: enabled=0',
    'mouse: enabled=0',
    'panic: action=fatal',
    'error: action=report',
    'info: action=ignore',
    'debug: action=ignore',
    '',
  ].join('\n');
  return {
    file: bin,
    args: ['-q', '-f', join(dir, 'bochsrc'), '-rc', join(dir, 'debugger.rc')],
    env: { TERM: 'dumb' },
    files: { bochsrc: rc, 'debugger.rc': 'c\n' },
  };
}

// ---- lapis vmm -------------------------------------------------------------------------------------------------

/** The CLI that runs `lapis vmm`: dist/cli/main.js beside dist/backends, or the package's dist/ when this module
 *  runs from src/ (the tests). */
export function lapisMain(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = resolve(here, '../cli/main.js');
  return existsSync(beside) ? beside : resolve(here, '../../dist/cli/main.js');
}

const NO_VMM_NESTED = "lapis vmm offers no nested virtualization: an L2's APIC would be the guest's own hypervisor's business, not lapis's, and none of it was tried";
const VMM_NO_SMM =
  'lapis vmm gives its guests no SMM: KVM runs a vCPU in SMM on its SMM address space, where lapis vmm maps no memory (no SMRAM), ' +
  'and where KVM_CAP_X86_SMM is 0 (the machine this was written on) an SMI stops the VM (status 10)';

/** `lapis vmm` (src/vmm, docs/vmm.md) as a backend: KVM CPUs with lapis's Machine as their local APICs and I/O APIC.
 *  Each boot is a `lapis vmm` process on the guest's stage 2 (src/backends/vmm-image.ts). Judged by spec: an
 *  outcome spec forbids here is a bug in the VMM or the guest runtime, never an implementation's quirk. */
function lapisVmmBackend(): Backend {
  return {
    name: 'lapis-vmm',
    description: 'lapis vmm: KVM CPUs with lapis as their local APICs and I/O APIC (no in-kernel irqchip)',
    available: (): Availability => {
      const k = kvmUsable();
      if (!k.ok) return k;
      const main = lapisMain();
      if (!existsSync(main)) return { ok: false, reason: `${main} not found: build lapis first (npm run build)` };
      return once('vmm-kvm', () => vmmKvmAvailable(process.env.LAPIS_KVM_DEVICE ?? '/dev/kvm'));
    },
    features: (): Features => ({
      x2apic: OK,
      // --cpu-features without x2apic: CPUID.1:ECX[21] clear and lapis's Machine without x2APIC (#GP on EXTD).
      x2apicHidden: OK,
      smm: no(VMM_NO_SMM),
      tscDeadline: OK,
      // KVM sees the guest's IRET and tracks NMI blocking; on a kvm_pvm host the guest has LAPIS_SOFT_IRET.
      iret: OK,
      irqLines: OK, // pc-testdev's IRQ lines at 0x2000 + n (src/vmm/platform.ts)
      msi: OK, // QEMU's edu device on PCI bus 0 (lapis vmm --device edu, src/vmm/edu.ts)
      ioapicVersion: 0x20, // lapis's I/O APIC (src/machine/config.ts ioapicVersion default)
      vmx: no(NO_VMM_NESTED),
      svm: no(NO_VMM_NESTED),
      tprShadow: no(`a VMX control: ${NO_VMM_NESTED}`),
      vid: no(`a VMX control: ${NO_VMM_NESTED}`),
      smiToBsp: no(VMM_NO_SMM),
      guestClock: no("lapis's APIC timer follows the guest's TSC, which keeps the host's time while a vCPU thread is descheduled (src/vmm/shared.ts)"),
      cpuHotplug: no('lapis vmm starts every CPU it is given: it has no empty slots and no hot-add request (QMP device_add is QEMU\'s)'),
    }),
    maxCpus: null,
    version: () =>
      once('version:lapis-vmm', () => {
        let v = 'unknown';
        try {
          v = (JSON.parse(readFileSync(resolve(dirname(lapisMain()), '../../package.json'), 'utf8')) as { version?: string }).version ?? v;
        } catch {
          // no package.json beside dist/
        }
        return `lapis vmm ${v} on KVM, Linux ${release()}`;
      }),
    asmDefines: () => (kvmIsPvm() ? ['LAPIS_SOFT_IRET'] : []),
    launch: (image, dir, req) => {
      const elf = join(dir, 'guest.elf');
      return {
        file: process.execPath,
        args: [
          lapisMain(), 'vmm', elf,
          '--cpus', String(req.cpus),
          '--mem', String(req.memMiB ?? 64),
          '--cpu-features', req.x2apic === false ? 'tsc-deadline' : 'x2apic,tsc-deadline',
          ...(req.msi ? ['--device', 'edu'] : []),
        ],
        env: {},
        files: { 'guest.elf': stage2Elf(new Uint8Array(readFileSync(image))) },
      };
    },
  };
}

export function getBackend(name: string): Backend | undefined {
  return BACKENDS.find((b) => b.name === name);
}
