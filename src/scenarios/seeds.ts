// The five seed threads as scripted scenarios on the model: one fixed interleaving each, the one the thread
// describes, with the model's answer. The litmus explorer (docs/litmus.md) answers the same questions over every
// interleaving; these scripts are the quick, dependency-free demonstration `npm start` runs.

import { Reg } from '../arch/apic.js';
import { ACTIVITY_NAMES, Activity } from '../arch/cpu.js';
import { Machine, type TraceEvent } from '../machine/machine.js';

export interface ScenarioResult {
  /** What the model says happened, in one line. */
  answer: string;
  /** Whether that is what the architecture requires (the scenario's own check). */
  ok: boolean;
  trace: string[];
}

export interface Scenario {
  name: string;
  seed: string;
  question: string;
  /** Set when the scenario needs a layer that has not landed yet. */
  pending?: string;
  run(): ScenarioResult;
}

function machine(cpus: number, trace: string[]): Machine {
  return new Machine({
    cpus,
    onTrace: (e: TraceEvent) => trace.push(`t=${e.time} ${e.cpu >= 0 ? `P${e.cpu}` : '--'} ${e.layer}: ${e.text}`),
  });
}

/** Send an IPI from `from` through its xAPIC ICR. */
function ipi(m: Machine, from: number, to: number, icrLo: number): void {
  m.apicWrite(from, Reg.ICR_HI, m.apics[to].id() << 24);
  m.apicWrite(from, Reg.ICR_LO, icrLo);
}
const INIT = 0x4500, SIPI = (v: number) => 0x4600 | v, SMI = 0x4200;

/** Boot an AP the textbook way: INIT, then SIPI; it starts at vector << 12 and halts. */
function boot(m: Machine, ap: number): void {
  ipi(m, 0, ap, INIT);
  m.takeEvent(ap);
  ipi(m, 0, ap, SIPI(0x10));
  m.cpus[ap].hlt();
}

export const SEED_SCENARIOS: readonly Scenario[] = [
  {
    name: 'sipi-during-smm',
    seed: '000 (LKML 2024, "KVM/x86: Do not clear SIPI while in SMM")',
    question: 'P1 is in SMM when the BSP sends INIT-SIPI-SIPI: does P1 boot?',
    run() {
      const trace: string[] = [];
      const m = machine(2, trace);
      boot(m, 1);
      m.smi(1);
      m.takeEvent(1); // P1 enters SMM from HLT
      ipi(m, 0, 1, INIT); // latched: INIT is blocked in SMM (D-13)
      ipi(m, 0, 1, SIPI(0x20)); // discarded: not in wait-for-SIPI
      ipi(m, 0, 1, SIPI(0x20)); // discarded
      m.cpus[1].rsm();
      m.takeEvent(1); // the latched INIT: P1 enters wait-for-SIPI
      const stuck = m.cpus[1].activity() === Activity.WAIT_FOR_SIPI;
      // The protocol-level fix the thread settles on: the sender sees no "booted" flag and resends a SIPI.
      ipi(m, 0, 1, SIPI(0x20));
      const booted = m.cpus[1].activity() === Activity.ACTIVE && m.cpus[1].sipiVector() === 0x20;
      return {
        answer: `without a resend P1 is ${stuck ? 'stuck in wait-for-sipi' : ACTIVITY_NAMES[m.cpus[1].activity()]}; after a SIPI resend it ${booted ? 'starts at 0x20000' : 'still does not start'}`,
        ok: stuck && booted,
        trace,
      };
    },
  },
  {
    name: 'avic-incomplete-ipi',
    seed: '001 (LKML 2019, "svm: Fix AVIC incomplete IPI emulation")',
    question: 'AVIC target not running: is the IPI delivered exactly once and the target woken?',
    pending: 'needs the AVIC layer (issue 5)',
    run: () => ({ answer: 'not modelled yet', ok: false, trace: [] }),
  },
  {
    name: 'nested-wait-for-sipi',
    seed: '002 (LKML 2020, "KVM: x86: emulate wait-for-SIPI and SIPI-VMExit")',
    question: 'An L1 hypervisor starts its L2 APs with INIT and SIPI VM exits: does L2 boot?',
    pending: 'the SIPI VM exit needs the nested-VMX layer (issue 5)',
    run: () => ({ answer: 'not modelled yet', ok: false, trace: [] }),
  },
  {
    name: 'apic-id-in-smm',
    seed: '003 (edk2-devel 2015, SMBASE relocation stuck with 2 VCPUs)',
    question: 'During SMBASE relocation, does each CPU read its own APIC ID in SMM and pick its own tile?',
    run() {
      const trace: string[] = [];
      const m = machine(2, trace);
      boot(m, 1);
      const tiles = [0x7ffc1000, 0x7ffc1800];
      ipi(m, 0, 1, SMI); // SendSmiIpi(APIC ID 1)
      m.takeEvent(1);
      const id = m.apicRead(1, Reg.ID)! >>> 24; // GetApicId() in SmmInitHandler, in SMM
      m.cpus[1].writeSaveStateSmbase(tiles[id]);
      m.cpus[1].rsm();
      const ok = id === 1 && m.cpus[1].smbase() === tiles[1];
      return {
        answer: `P1 reads APIC ID ${id} in SMM and relocates to SMBASE 0x${m.cpus[1].smbase().toString(16)}`,
        ok,
        trace,
      };
    },
  },
  {
    name: 'stale-irr-after-soft-disable',
    seed: '004 (LKML 2019, "kvm: APIC emulation problem")',
    question: 'A timer interrupt is pending in IRR with IF=0 when the guest software-disables its APIC: does the IRR bit go stale?',
    run() {
      const trace: string[] = [];
      const m = machine(1, trace);
      const TIMER_VECTOR = 0xec, SPURIOUS = 0xff;
      m.apicWrite(0, Reg.SVR, 0x100 | SPURIOUS);
      m.apicWrite(0, Reg.LVT_TIMER, TIMER_VECTOR);
      m.apicWrite(0, Reg.TIMER_ICR, 10);
      m.cpus[0].cli();
      m.advanceBy(100); // the timer fires in an interrupts-disabled region
      const pendingBefore = m.apics[0].irr(TIMER_VECTOR);
      m.apicWrite(0, Reg.SVR, SPURIOUS); // apic_soft_disable()
      m.cpus[0].sti(); // the dying CPU re-enables interrupts
      m.cpus[0].beginInstruction();
      const taken = m.takeEvent(0);
      m.apicWrite(0, Reg.SVR, 0x100 | SPURIOUS); // startup: enable the APIC again
      const stale = m.apics[0].irr(TIMER_VECTOR);
      return {
        answer: `IRR(0x${TIMER_VECTOR.toString(16)}) ${pendingBefore ? 'set' : 'clear'} before soft-disable; delivered as ${taken.kind} vector 0x${taken.vector.toString(16)}; ${stale ? 'still set (stale)' : 'clear'} at re-enable`,
        ok: pendingBefore && !stale && taken.vector === SPURIOUS,
        trace,
      };
    },
  },
];
