// Nested VMX and SVM on real implementations (docs/nested.md): the compiler's nested constructs and refusals, and
// every nested test of the catalog run for real on the backends that have the assist it needs (Bochs 2.7
// corei7_skylake_x for VMX; QEMU 7.2 and 10 TCG and Bochs 2.7 ryzen for SVM). Every outcome a run produces must be
// allowed by the backend's profile or matched by an explanation in conformance/explanations.json; seed 002 must
// show exactly the documented Bochs deviation, which neither `spec` nor `kvm-2020-nested` allows.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGuest, guestTest } from '../../src/backends/build.js';
import { bootOnce } from '../../src/backends/run.js';
import { backendRefusal, compileTest, CompileRefusal } from '../../src/backends/compile.js';
import { conform, modelOutcomes } from '../../src/backends/conform.js';
import { explain, parseExplanations } from '../../src/backends/explain.js';
import { DEFAULT_PROFILE, findProfile, type Profile } from '../../src/sim/profiles.js';
import { backend, load, parse, ran, refusal, text, useRunTempDir } from './helpers.js';

const work = useRunTempDir('nested');

const explanations = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'conformance/explanations.json');

const VMX_TESTS = [
  'seed-002-nested-sipi-exit',
  'nested-init-in-root-then-vmxoff',
  'nested-sipi-exit-qualification',
  'nested-sipi-to-running-guest',
  'nested-vmentry-without-exit-fails',
  'nested-init-blocked-in-guest-wfs',
];
const SVM_TESTS = ['nested-sipi-cleared-on-svm', 'nested-svm-sipi-to-guest-discarded'];
const TPR_SHADOW_TESTS = ['tpr-shadow-below-threshold-delivers', 'tpr-shadow-threshold-after-eoi', 'tpr-shadow-threshold-stale-after-exit'];
const APICV_TESTS = ['apicv-eoi-edge-no-exit', 'apicv-ipi-exits-without-ipiv'];

/** The profile each backend is judged by here: its own where the model has one. */
function profileOf(name: string): Profile {
  const p = name.startsWith('bochs') ? findProfile('bochs-2.7') : name === 'qemu-tcg' ? findProfile('qemu-tcg-7.2') : DEFAULT_PROFILE;
  if (!p) throw new Error(`no profile for ${name}`);
  return p;
}

const NESTED_SRC = `lapis nested-compile
config { cpus = 2 }
init { P1.vmx = non-root; go = 0 }
P0 { send init -> P1; wait 2; store go = 1 }
P1 { await go == 1 }
P1 on vmexit init { r1 = 7; vmentry activity = wait-for-sipi; vmentry }
observe P1.vmexits(init), P1.vmx, P1:r1
forall (true)
`;

describe('compiler: nested constructs', () => {
  it('compiles an L1 hypervisor into the guest: the exit handler, vmentry, the VMX tables, the observables', () => {
    const c = compileTest(parse(NESTED_SRC));
    expect(c.needs.nested).toBe('vmx');
    expect(c.asm).toMatch(/^%define LIT_NESTED 1 /m);
    expect(c.asm).toMatch(/^P1_on_vmexit_init:/m);
    expect(c.asm).toMatch(/call lit_nested_enter {15}; init: the guest \(VMX non-root\)/);
    expect(c.asm).toMatch(/mov ebx, 1\n {2}call lit_vmentry/); // activity = wait-for-sipi
    expect(c.asm).toMatch(/mov ebx, 0\n {2}call lit_vmentry/); // resume
    expect(c.asm).toMatch(/^lit_cpu_vmx: db 0, 3 /m);
    expect(c.asm).toMatch(/^lit_vmexit_init: dd 0, P1_on_vmexit_init$/m);
    expect(c.asm).toMatch(/LIT_KV32 'P1\.vmexits\(init\)', \{LIT_VMEXITS_INIT \+ 1 \* 4\}/);
    expect(c.asm).toMatch(/LIT_KV_VMX 'P1\.vmx', 1/);
    // a wait tick outlasts an exit handler (NESTED_WAIT_US_PER_TICK)
    expect(c.asm).toMatch(/mov eax, 200 {21}; 100 µs a tick/);
  });

  it('a guest that starts in wait-for-SIPI is entered there by its own start code; vendor = amd means SVM', () => {
    const q = compileTest(load('litmus/nested-sipi-exit-qualification.litmus'));
    expect(q.asm).toMatch(/^lit_cpu_kind: db 1, 2$/m); // started like an idle CPU, not left in a real wait-for-SIPI
    expect(q.asm).toMatch(/^lit_cpu_vmx: db 0, 4 /m);
    expect(q.asm).toMatch(/^P1_start: .*\n(.*\n){5} {2}call lit_nested_enter {15}; \(never returns/m);
    const s = compileTest(load('litmus/nested-sipi-cleared-on-svm.litmus'));
    expect(s.needs.nested).toBe('svm');
    expect(s.asm).toMatch(/^%define LIT_NESTED 2 /m);
  });

  it('refuses what the L1 does not run, naming the construct', () => {
    const r1 = refusal(parse('lapis a\nconfig { cpus = 2; vendor = amd }\nP1 { vmxon }\nforall (true)\n'));
    expect(r1.construct).toBe('P1: vmxon');
    expect(r1.reason).toMatch(/SVM has no VMX operation/);
    const r2 = refusal(parse('lapis b\nconfig { cpus = 2; vendor = amd }\ninit { P1.vmx = non-root; P1.activity = wait-for-sipi }\nP0 { nop }\nforall (true)\n'));
    expect(r2.reason).toMatch(/no wait-for-SIPI guest activity state/);
    const r3 = refusal(parse('lapis c\nconfig { cpus = 2 }\ninit { P1.vmx = root; P1.activity = wait-for-sipi }\nP0 { nop }\nforall (true)\n'));
    expect(r3.reason).toMatch(/cannot be in VMX root/);
    const r4 = refusal(parse('lapis d\nconfig { cpus = 2 }\ninit { P1.vmx = non-root }\nP0 { send smi -> P1 }\nP1 { nop }\nforall (true)\n'));
    expect(r4.construct).toBe('SMI');
    expect(r4.reason).toMatch(/SMM in a test that uses VMX/);
    for (const r of [r1, r2, r3, r4]) expect(r.category).toBe('nested-vmx');
    // vCPUs under a TPR shadow: the L1's virtual APIC emulates no INIT/SIPI for them and keeps no TMR
    const v1 = refusal(parse('lapis e\nconfig { cpus = 2; accel = tpr-shadow }\nP0 { send init -> P1 }\nP1 { nop }\nforall (true)\n'));
    expect(v1.reason).toMatch(/INIT and SIPI to a vCPU/);
    const v2 = refusal(parse('lapis f\nconfig { cpus = 2; accel = tpr-shadow }\nP0 { send fixed 0x40 -> P1 trigger=level }\nP1 { nop }\nforall (true)\n'));
    expect(v2.reason).toMatch(/no EOI-exit bitmap or virtual TMR/);
    // AVIC, posted interrupts and IPI virtualization: no backend here has them
    expect(refusal(load('litmus/seed-001-avic-incomplete-ipi.litmus')).reason).toMatch(/AMD AVIC, which no backend here has/);
    const post = refusal(load('litmus/apicv-post-to-running-vcpu.litmus'));
    expect(post.construct).toBe('D1: post 0x40 -> P1');
    expect(post.category).toBe('vcpu-assist');
    const ipiv = refusal(load('litmus/apicv-ipiv-logical-still-exits.litmus'));
    expect(ipiv.reason).toMatch(/IPI virtualization: no backend here has it/);
    expect(ipiv.category).toBe('vcpu-assist');
  });

  it('compiles vCPUs under APICv without posted interrupts: virtual-interrupt delivery, the exit counters', () => {
    const c = compileTest(load('litmus/apicv-ipi-exits-without-ipiv.litmus'));
    expect(c.needs.nested).toBe('vmx-vid');
    expect(c.asm).toMatch(/^%define LIT_VAPIC 2 /m);
    expect(c.asm).toMatch(/^lit_cpu_vmx: db 3, 3, 3 /m);
    expect(c.asm).toMatch(/LIT_KV32 'P0\.vmexits\(apic-write\)', \{LIT_VMEXITS_APICW \+ 0 \* 4\}/);
    expect(backendRefusal(c, backend('qemu-tcg'))?.reason).toMatch(/with virtual-interrupt delivery; this backend has no VMX/);
    expect(backendRefusal(c, backend('bochs'))).toBeNull();
    const x2 = refusal(parse('lapis g\nconfig { cpus = 1; accel = apicv }\ninit { P0.apic.mode = x2apic }\nP0 { nop }\nforall (true)\n'));
    expect(x2.reason).toMatch(/xAPIC accesses only/);
  });

  it('compiles vCPUs under a TPR shadow: every test CPU a guest, the virtual APIC, the exit counters', () => {
    const c = compileTest(load('litmus/tpr-shadow-threshold-stale-after-exit.litmus'));
    expect(c.needs.nested).toBe('vmx-tpr-shadow');
    expect(c.asm).toMatch(/^%define LIT_VAPIC 1 /m);
    expect(c.asm).toMatch(/^lit_cpu_vmx: db 3, 3 /m);
    expect(c.asm).toMatch(/LIT_KV32 'P1\.vmexits\(tpr-below-threshold\)', \{LIT_VMEXITS_TPR \+ 1 \* 4\}/);
    expect(c.asm).toMatch(/LIT_KV32 'P1\.vmexits\(entry-failure\)', \{LIT_VMEXITS_EFAIL \+ 1 \* 4\}/);
    const q = backendRefusal(c, backend('qemu10-tcg'));
    expect(q?.construct).toBe('VMX');
    expect(q?.reason).toMatch(/vCPUs of an L1 hypervisor on Intel VMX with a TPR shadow; this backend has no VMX/);
    expect(backendRefusal(c, backend('bochs-svm'))?.reason).toMatch(/no VMX/);
    expect(backendRefusal(c, backend('bochs'))).toBeNull();
  });

  it('refuses per backend with the missing assist named', () => {
    const vmx = compileTest(load('litmus/seed-002-nested-sipi-exit.litmus'));
    const svm = compileTest(load('litmus/nested-sipi-cleared-on-svm.litmus'));
    for (const name of ['qemu-tcg', 'qemu10-tcg', 'bochs-svm']) {
      const r = backendRefusal(vmx, backend(name));
      expect(r?.construct, name).toBe('VMX');
      expect(r?.reason, name).toMatch(/this backend has no VMX: /);
      expect(r?.category).toBe('nested-vmx');
    }
    expect(backendRefusal(vmx, backend('bochs'))).toBeNull();
    expect(backendRefusal(svm, backend('bochs'))?.reason).toMatch(/this backend has no SVM: corei7_skylake_x is an Intel model/);
    for (const name of ['qemu-tcg', 'qemu10-tcg', 'bochs-svm']) expect(backendRefusal(svm, backend(name)), name).toBeNull();
    // a test without VMX needs none
    expect(backendRefusal(compileTest(load('litmus/self-ipi-once.litmus')), backend('bochs-svm'))).toBeNull();
  });

  it('lists VMX, SVM, TPR shadow and virtual-interrupt delivery per backend', () => {
    const f = (name: string): string => {
      const x = backend(name).features();
      return [x.vmx, x.svm, x.tprShadow, x.vid].map((s) => (s.ok ? 'y' : 'n')).join('');
    };
    expect(f('bochs')).toBe('ynyy');
    expect(f('bochs-svm')).toBe('nynn');
    expect(f('qemu-tcg')).toBe('nynn');
    expect(f('qemu10-tcg')).toBe('nynn');
    expect(f('qemu-kvm')).toBe('nnnn');
  });
});

/** Run a catalog test on a backend and check every outcome against the backend's profile or an explanation. */
async function runChecked(file: string, name: string, runs: number) {
  const r = ran(await conform(load(`litmus/${file}.litmus`), { backend: backend(name), runs, profile: profileOf(name) }));
  // Bochs's guest time is its instruction count: no host effect reaches its guest. On QEMU guest time is host time,
  // and a loaded host can hold a vCPU past the per-run limit: such a run is timed out, never judged. QEMU TCG also
  // takes an INIT with GIF = 0 (N4): the L1 is INITed wherever it is, and where a loaded host lets the SIPI come late
  // the restarted L1 can shut down (QEMU exits without the end marker): counted as crashed, never judged.
  if (name.startsWith('bochs')) {
    expect(r.hung + r.crashed + r.unreadable, text(r)).toBe(0);
    expect(r.completed, text(r)).toBe(runs);
  } else {
    expect(r.hung + r.unreadable, text(r)).toBe(0);
    expect(r.completed + r.timedOut + r.crashed, text(r)).toBe(runs);
    expect(r.completed, text(r)).toBeGreaterThan(0);
  }
  for (const o of r.outcomes) {
    if (o.verdict === 'allowed') continue;
    expect(explain(explanations, file, name, o.key).map((e) => e.id), `${file} on ${name}: ${o.key} unexplained\n${text(r)}`).not.toEqual([]);
  }
  return r;
}

describe('nested-init-exit-then-resume on bochs (VMX)', () => {
  // Bochs 2.7 leaves the INIT pending after its INIT VM exit, so every VMRESUME exits on INIT again and L2 never
  // runs again (explanation N2, docs/nested.md): no run ends. A run the per-run limit ends is never judged as an
  // outcome, so what is asserted is why each one stayed open: P1's await had its condition met and P1 never moved.
  it('never ends a run: L2 is stuck behind INIT exits, its await satisfied (N2)', async () => {
    const r = ran(await conform(load('litmus/nested-init-exit-then-resume.litmus'), { backend: backend('bochs'), runs: 5, profile: profileOf('bochs') }));
    expect(r.completed, text(r)).toBe(0);
    expect(r.timedOut, text(r)).toBe(5);
    expect(r.failures.map((f) => f.reason), text(r)).toEqual([expect.stringMatching(/P1 was in an await whose condition held/)]);
  }, 120000);
});

describe.each(VMX_TESTS)('%s on bochs (VMX)', (file) => {
  it('every outcome is allowed by bochs-2.7 or explained', async () => {
    await runChecked(file, 'bochs', 10);
  }, 120000);
});

describe.each(APICV_TESTS)('%s on bochs (vCPUs under APICv, virtual-interrupt delivery)', (file) => {
  it('every outcome is allowed by bochs-2.7 or explained', async () => {
    await runChecked(file, 'bochs', 10);
  }, 120000);
});

describe.each(TPR_SHADOW_TESTS)('%s on bochs (vCPUs under a TPR shadow)', (file) => {
  it('every outcome is allowed by bochs-2.7 or explained', async () => {
    await runChecked(file, 'bochs', 10);
  }, 120000);
});

describe.each(['qemu-tcg', 'qemu10-tcg', 'bochs-svm'])('SVM on %s', (name) => {
  it.each(SVM_TESTS)('%s: every outcome allowed or explained', async (file) => {
    await runChecked(file, name, 10);
  }, 120000);
});

describe('seed 002 on Bochs VMX', () => {
  it('shows the documented deviation (the INIT VM exit leaves INIT pending), which neither spec nor kvm-2020-nested allows', async () => {
    const t = load('litmus/seed-002-nested-sipi-exit.litmus');
    const r = ran(await conform(t, { backend: backend('bochs'), runs: 20 }));
    const bochsKey = 'P1.vmexits(entry-failure)=0; P1.vmx=non-root; booted=0; P1.vmexits(init)=3; P1.vmexits(sipi)=2';
    expect(r.outcomes.map((o) => o.key), text(r)).toEqual([bochsKey]);
    expect(r.outcomes[0].verdict).toBe('FORBIDDEN');
    expect(r.ok).toBe(false); // forall (booted = 1) fails on Bochs
    const kvm2020 = findProfile('kvm-2020-nested');
    if (!kvm2020) throw new Error('no kvm-2020-nested profile');
    const spec = modelOutcomes(t, DEFAULT_PROFILE);
    const old = modelOutcomes(t, kvm2020);
    expect(spec.allowed).not.toContain(bochsKey);
    expect(old.allowed).not.toContain(bochsKey);
    expect(explain(explanations, 'seed-002-nested-sipi-exit', 'bochs', bochsKey).length).toBeGreaterThan(0);
  }, 120000);
});

/** Boot a hand-written probe guest (guest/tests) once and return its values. */
async function probe(name: string, on: string, defines: string[]): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(work(), 'probe-'));
  try {
    const img = buildGuest({ source: guestTest(name), out: join(dir, `${name}.img`), defines });
    const r = await bootOnce({ backend: backend(on), image: img, machine: { cpus: 2 }, timeoutMs: 20000 });
    expect(r.status, `${r.reason}\n${r.diagnostics}`).toBe('completed');
    return r.values;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('probes (docs/nested.md): what the implementations do around an INIT or SIPI VM exit', () => {
  it('Bochs 2.7 VMX: the capabilities the backend claims, and an INIT VM exit that stays pending', async () => {
    const v = await probe('vmx-probe', 'bochs', ['VMX_PHASE=1']);
    expect(Number(v['vmx-misc']) & (1 << 8)).not.toBe(0); // IA32_VMX_MISC: wait-for-SIPI activity state
    expect(Number(v['vmx-proc-allowed']) & (1 << 21)).not.toBe(0); // use TPR shadow
    expect(Number(v['vmx-proc2-allowed']) & (1 << 9)).not.toBe(0); // virtual-interrupt delivery
    expect(Number(v['vmx-pin-allowed']) & (1 << 7)).toBe(0); // no posted interrupts
    expect(Number(v['init-exits'])).toBeGreaterThan(10); // SDM Vol 3C 26.2: one; Bochs 2.7 re-exits on every entry
    expect(v['guest-runs']).toBe('0');
  }, 60000);

  it('Bochs 2.7 VMX: the SIPI exit reports the vector, saves blocking by SMI and NMI, and the old INIT exits again', async () => {
    const v = await probe('vmx-probe', 'bochs', ['VMX_PHASE=2']);
    expect(v['init-exits']).toBe('1'); // the guest waits for a SIPI: no event is looked at there
    expect(v['sipi-exits']).toBe('1');
    expect(v['sipi-qual']).toBe('32');
    expect(v['sipi-intr']).toBe('12'); // bits 2 and 3: the wait-for-SIPI masks, kept
    expect(v['init-exits-after-sipi']).toBe('2');
    expect(v['failed-entries']).toBe('1'); // the next entry with blocking by SMI outside SMM fails
  }, 60000);

  it('Bochs 2.7 VMX: an INIT in VMX root is dropped, VMXOFF releases nothing', async () => {
    expect((await probe('vmx-probe', 'bochs', ['VMX_PHASE=3']))['after-vmxoff']).toBe('1');
  }, 60000);

  it('Bochs 2.7 VMX: after a VM entry with RFLAGS.IF = 0, external-interrupt exiting no longer sees interrupts', async () => {
    const v = await probe('vmx-probe', 'bochs', ['VMX_PHASE=4']);
    expect(v['extint-exits']).toBe('1'); // the guest's own CLI let it through (SDM Vol 3C 25.3: IF does not block)
    expect(v['extint-vector']).toBe('65');
    expect(v['extint-exits-2']).toBe('1'); // after the CPUID exit and the entry with IF = 0: held (a Bochs bug)
  }, 60000);

  it.each(['bochs-svm', 'qemu-tcg', 'qemu10-tcg'])('%s SVM: the #VMEXIT(INIT) leaves the INIT pending and the L1 is INITed', async (on) => {
    const v = await probe('svm-probe', on, ['SVM_PHASE=1']);
    expect(v.svm).toBe('1');
    expect(v['sipi-ran']).toBe('1'); // P1 waited for the SIPI as a plain AP
    expect(v['init-exits-seen']).toBe('0'); // L1's handler never ran
    if (on === 'bochs-svm') expect(v['vmcb-exitcode']).toBe('99'); // #VMEXIT(INIT) written, then INIT at the STGI
    const s = await probe('svm-probe', on, ['SVM_PHASE=2']);
    expect(s['sipi-ran']).toBe('0'); // a SIPI to a running guest is discarded
    expect(s['guest-runs']).toBe('1');
  }, 60000);

  it('no VMX on QEMU TCG, no SVM on Bochs corei7_skylake_x', async () => {
    expect((await probe('vmx-probe', 'qemu-tcg', []))['vmx']).toBe('0');
    expect((await probe('svm-probe', 'bochs', []))['svm']).toBe('0');
  }, 60000);
});

describe('catalog coverage', () => {
  it('every nested test in the catalog compiles and some backend here runs it', () => {
    for (const file of [...VMX_TESTS, ...SVM_TESTS, ...TPR_SHADOW_TESTS, ...APICV_TESTS]) {
      let c;
      try {
        c = compileTest(load(`litmus/${file}.litmus`));
      } catch (e) {
        throw new Error(`${file}: ${e instanceof CompileRefusal ? e.message : String(e)}`);
      }
      const on = ['bochs', 'bochs-svm', 'qemu-tcg', 'qemu10-tcg'].filter((n) => backendRefusal(c, backend(n)) === null);
      expect(on.length, file).toBeGreaterThan(0);
    }
  });
});
