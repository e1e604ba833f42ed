// What the v2 ops and observables mean on the model (docs/litmus.md, "What is new in v2"), each checked through the
// explorer: a claim the architecture makes, and where useful the claim's negation.
import { describe, expect, it } from 'vitest';
import { parseLitmus } from '../../src/litmus/parse.js';
import { Simulator } from '../../src/sim/sim.js';
import { explore } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';

function run(text: string): { ok: boolean; complete: boolean; keys: string[] } {
  const r = parseLitmus(text, 't.litmus');
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  const res = explore(new Simulator(r.test), {});
  const a = answer(r.test, 'spec', res);
  return { ok: a.ok, complete: res.complete, keys: res.outcomes.map((o) => o.key).sort() };
}

describe('await on a CPU\'s state', () => {
  it('an IPI sent once the target halted always wakes it (no race with its HLT)', () => {
    const t = `lapis T\nconfig {\n  cpus = 2\n}\nP0 {\n  await P1.activity == halted\n  send fixed 0x40 -> P1\n}\nP1 {\n  hlt\n  store woke = 1\n}\nforall (woke = 1)\n`;
    expect(run(t).ok).toBe(true);
    // Without the await the IPI may come before the HLT, and P1 sleeps for ever.
    expect(run(t.replace('  await P1.activity == halted\n', '')).ok).toBe(false);
  });

  it('an agent waits for SMM to be entered and left', () => {
    const t = `lapis T\nP0 {\n  nop\n}\nP0 on smi {\n  await ack == 1\n  rsm\n}\nD0 {\n  smi -> P0\n  await P0.smm == 1\n  store ack = 1\n  await P0.smm == 0\n  store seen = 1\n}\nforall (seen = 1)\n`;
    expect(run(t).ok).toBe(true);
  });
});

describe('shutdown, RESET and INIT', () => {
  const base = (agent: string, handler = ''): string => `lapis T\nconfig {\n  cpus = 2\n}\nP0 {\n  nop\n}\nP1 {\n  ${handler === 'nmi' ? 'send nmi -> P1' : 'shutdown'}\n  store after = 1\n}\nP1 on nmi {\n  ${handler === 'nmi' ? 'shutdown' : 'store nmi = 1'}\n}\nD0 {\n  await P1.activity == shutdown\n  ${agent}\n}\nobserve P1.activity, after\nexists (true)\n`;

  it('an NMI wakes a CPU in shutdown; its handler returns into shutdown (D-32)', () => {
    expect(run(base('nmi -> P1')).keys).toEqual(['P1.activity=shutdown; after=0']);
  });

  it('INIT takes an AP out of shutdown to wait-for-SIPI; RESET too', () => {
    expect(run(base('init -> P1')).keys).toEqual(['P1.activity=wait-for-sipi; after=0']);
    expect(run(base('reset -> P1')).keys).toEqual(['P1.activity=wait-for-sipi; after=0']);
  });

  it('a shutdown inside the NMI handler: NMI and INIT no longer wake it, only RESET', () => {
    // (the NMI may come before or after the store)
    const init = run(base('init -> P1', 'nmi')).keys, reset = run(base('reset -> P1', 'nmi')).keys;
    expect(init.length).toBeGreaterThan(0);
    expect(init.every((k) => k.startsWith('P1.activity=shutdown'))).toBe(true);
    expect(reset.every((k) => k.startsWith('P1.activity=wait-for-sipi'))).toBe(true);
  });

  it('RESET puts SMBASE back at 30000H and x2APIC back to xAPIC; INIT keeps both', () => {
    const t = (sig: string): string => `lapis T\nconfig {\n  cpus = 2\n}\ninit {\n  P1.apic.mode = x2apic\n  P1.smbase = 0x40000\n}\nP0 {\n  nop\n}\nP1 {\n  nop\n}\nD0 {\n  ${sig} -> P1\n}\nobserve P1.smbase, P1.apic.mode\nexists (true)\n`;
    expect(run(t('reset')).keys).toEqual(['P1.smbase=0x30000; P1.apic.mode=xapic']);
    expect(run(t('init')).keys).toEqual(['P1.smbase=0x40000; P1.apic.mode=x2apic']);
  });
});

describe('IRET, MOV SS and GIF', () => {
  it('an explicit IRET in an NMI handler ends NMI blocking: a second NMI nests', () => {
    const t = (extra: string): string => `lapis T\nP0 {\n  nop\n}\nP0 on nmi {\n  load r0 = depth\n  r1 = r0 + 1\n  store depth = r1\n  if r0 != 0 goto out\n  ${extra}\n  store ready = 1\n  await second == 1\nout:\n  store depth = r0\n}\nD0 {\n  nmi -> P0\n  await ready == 1\n  nmi -> P0\n  store second = 1\n}\nobserve P0.count(nmi)\nexists (P0.count(nmi) = 2 /\\ nested = 0)\n`;
    // Without the IRET the second NMI waits for the handler's end; with it, it is taken inside (depth 1).
    const plain = run(t('nop'));
    expect(plain.ok).toBe(true);
    const nested = run(t('iret').replace('store depth = r1', 'store depth = r1\n  if r0 == 0 goto go\n  store nested = 1\ngo:'));
    expect(nested.ok).toBe(false);
  });

  it('MOV SS holds an NMI for one op; Pn.in-shadow counts NMIs taken in an STI shadow', () => {
    const movss = `lapis T\nP0 {\n  store go = 1\n  mov ss\n  store a = 1\n}\nP0 on nmi {\n  load r1 = a\n}\nD0 {\n  await go == 1\n  nmi -> P0\n}\nobserve P0.in-shadow(nmi)\nexists (P0:r1 = 0 /\\ P0.count(nmi) = 1)\n`;
    const r = run(movss);
    // The NMI may come before MOV SS (a = 0) or after the store, never between them.
    expect(r.keys.every((k) => k.includes('in-shadow(nmi)=0'))).toBe(true);
    const sti = `lapis T\nP0 {\n  cli\n  store go = 1\n  sti\n  nop\n}\nP0 on nmi {\n  nop\n}\nD0 {\n  await go == 1\n  nmi -> P0\n}\nexists (P0.in-shadow(nmi) = 1)\n`;
    expect(run(sti).ok).toBe(true);
  });

  it('AMD: CLGI holds an NMI until STGI; Intel: CLGI is #UD', () => {
    const t = (vendor: string): string => `lapis T\nconfig {\n  vendor = ${vendor}\n}\nP0 {\n  clgi\n  store go = 1\n  await sent == 1\n  load r0 = taken\n  stgi\n}\nP0 on nmi {\n  store taken = 1\n}\nD0 {\n  await go == 1\n  nmi -> P0\n  store sent = 1\n}\nobserve P0.faults, P0.gif\nexists (P0:r0 = 1)\n`;
    const amd = run(t('amd'));
    expect(amd.ok).toBe(false);
    expect(amd.keys.every((k) => k.includes('P0.faults=0; P0.gif=1'))).toBe(true);
    expect(run(t('intel')).keys.every((k) => k.includes('P0.faults=2'))).toBe(true);
  });
});

describe('pins, the 8259A and MSIs', () => {
  it('LINT1 in NMI mode delivers an NMI on the rising edge', () => {
    const t = `lapis T\nP0 {\n  apic write LVT_LINT1 = 0x400\n  store go = 1\n}\nD0 {\n  await go == 1\n  lint1 P0 pulse\n}\nforall (P0.count(nmi) = 1)\n`;
    expect(run(t).ok).toBe(true);
  });

  it('ExtINT from the 8259A through LINT0: its vector, once, until the handler\'s EOI to the 8259A', () => {
    const t = `lapis T\nconfig {\n  pic = true\n}\nP0 {\n  pic write 0x20 = 0x13\n  pic write 0x21 = 0x30\n  pic write 0x21 = 0x01\n  pic write 0x21 = 0xfd\n  apic write LVT_LINT0 = 0x700\n  store go = 1\n}\nP0 on vector 0x31 {\n  pic write 0x20 = 0x20\n}\nD0 {\n  await go == 1\n  pic irq 1 pulse\n}\nforall (P0.count(0x31) = 1 /\\ P0.isr(0x31) = 0)\n`;
    expect(run(t).ok).toBe(true);
  });

  it('an MSI with trigger=level sets TMR; a level de-assert message raises nothing', () => {
    const t = (extra: string): string => `lapis T\nP0 {\n  nop\n}\nP0 on vector 0x50 {\n  nop\n}\nD0 {\n  msi P0 vector 0x50 ${extra}\n}\nobserve P0.count(0x50), P0.tmr(0x50)\nexists (true)\n`;
    expect(run(t('trigger=level')).keys).toEqual(['P0.count(0x50)=1; P0.tmr(0x50)=1']);
    expect(run(t('trigger=level level=deassert')).keys).toEqual(['P0.count(0x50)=0; P0.tmr(0x50)=0']);
  });
});

describe('a VMM\'s host-side ops', () => {
  it('an IPI that arrives between the save and the restore of the APIC state is lost', () => {
    const t = `lapis T\nconfig {\n  cpus = 2\n}\nP0 {\n  send fixed 0x40 -> P1\n}\nP1 {\n  cli\n}\nD0 {\n  vmm save P1\n  vmm restore P1 lapic\n}\nobserve P1.irr(0x40)\nexists (P1.irr(0x40) = 0)\n`;
    const r = run(t);
    expect(r.ok).toBe(true);
    expect(r.keys).toEqual(['P1.irr(0x40)=0', 'P1.irr(0x40)=1']);
  });

  it('restoring IA32_APIC_BASE after the registers, or before, is the difference the explorer enumerates', () => {
    const t = `lapis T\nconfig {\n  cpus = 2\n}\ninit {\n  P1.apic.mode = x2apic\n}\nP0 {\n  nop\n}\nP1 {\n  nop\n}\nD0 {\n  vmm save P1\n  vmm restore P1 apic-base\n  vmm restore P1 lapic\n  vmm set P1 nmi-pending = 1\n}\nforall (P1.apic.mode = x2apic /\\ P1.count(nmi) = 1)\n`;
    expect(run(t).ok).toBe(true);
  });
});

describe('64-bit registers and memory words', () => {
  it('keep all 64 bits through store, load and arithmetic, wrap modulo 2^64, and a small value clears the high word', () => {
    const t = `lapis T\nP0 {\n  store x = 0x123456789\n  load r1 = x\n  r2 = r1 + 0xfffffffffffffff0\n  store y = 0x100000005\n  store y = 7\n  r3 = 0xffffffff00000000\n  r3 = 3\n  store z = r2\n}\nforall (x = 0x123456789 /\\ P0:r1 = 0x123456789 /\\ z = 0x123456779 /\\ y = 7 /\\ P0:r3 = 3)\n`;
    expect(run(t).ok).toBe(true);
    // The claim's negation: the high word of x is there to be seen.
    expect(run(t.replace('x = 0x123456789 /\\', 'x = 0x23456789 /\\')).ok).toBe(false);
  });
});

describe('config apic-ids', () => {
  it('Pk is addressed by its APIC ID; CPUID reports it', () => {
    const t = `lapis T\nconfig {\n  cpus = 2\n  apic-ids = 0, 6\n}\nP0 {\n  send fixed 0x40 -> P1\n  send fixed 0x41 -> phys 1\n}\nP1 {\n  cpuid r0 = 0x1.ebx\n}\nforall (P1.count(0x40) = 1 /\\ P1.count(0x41) = 0 /\\ P1:r0 = 0x06000000)\n`;
    expect(run(t).ok).toBe(true);
  });

  it('an x2APIC ID above 0xFF: an xAPIC-mode INIT-SIPI cannot reach it, an x2APIC-mode one can', () => {
    const t = (mode: string): string => `lapis T\nconfig {\n  cpus = 2\n  apic-ids = 0, 0x100\n}\ninit {\n  P0.apic.mode = ${mode}\n  P1.apic.mode = x2apic\n}\nP0 {\n  send init -> phys 0x100\n  send sipi 0x10 -> phys 0x100\n}\nP1 on sipi {\n  store up = 1\n}\nforall (up = 1)\n`;
    expect(run(t('x2apic')).ok).toBe(true);
    expect(run(t('xapic')).ok).toBe(false);
  });
});

describe('TSC and CPUID', () => {
  it('rdtsc reads the model\'s clock: a wait of N ticks is N x timer-ratio TSC ticks', () => {
    const t = `lapis T\nconfig {\n  timer-ratio = 3\n}\nP0 {\n  rdtsc r0\n  wait 4\n  rdtsc r1\n}\nforall (P0:r1 - P0:r0 = 12)\n`;
    expect(run(t).ok).toBe(true);
  });
});

describe('handlers share the interrupted code\'s registers (D-33)', () => {
  it('a register a handler writes is the main block\'s', () => {
    const t = `lapis T\nP0 {\n  r1 = 5\n  send fixed 0x40 -> self\n  r2 = r1\n}\nP0 on vector 0x40 {\n  r1 = 7\n  eoi\n}\nobserve P0:r2\nexists (P0:r2 = 7)\n`;
    const r = run(t);
    expect(r.ok).toBe(true);
    expect(r.keys).toEqual(['P0:r2=5', 'P0:r2=7']);
  });
});

describe('VMX controls of an L1 (nested VMX)', () => {
  const nested = (guest: string, entry: string, handlers: string, cond: string): string =>
    `lapis T\ninit {\n  P0.vmx = non-root\n}\nP0 {\n${guest}\n}\nP0 on vmexit init {\n  store entered = 1\n  ${entry}\n}\n${handlers}D0 {\n  await go == 1\n  init -> P0\n}\n${cond}\n`;

  it('interrupt-window exiting: the exit comes at the first boundary with IF = 1 and no STI shadow', () => {
    const t = nested('  cli\n  store go = 1\n  await entered == 1\n  sti\n  nop\n  store after = 1', 'vmentry intr-window',
      'P0 on vmexit intr-window {\n  load r1 = after\n  vmentry\n}\n', 'forall (P0.vmexits(intr-window) = 1 /\\ P0:r1 = 0 /\\ after = 1)');
    expect(run(t).ok).toBe(true);
  });

  it('NMI-window exiting: with no NMI blocking the exit comes right after the entry', () => {
    const t = nested('  store go = 1\n  await entered == 1\n  store after = 1', 'vmentry nmi-window',
      'P0 on vmexit nmi-window {\n  load r1 = after\n  vmentry\n}\n', 'forall (P0.vmexits(nmi-window) = 1 /\\ P0:r1 = 0)');
    expect(run(t).ok).toBe(true);
  });

  it('an entry in the HLT activity state: the guest sleeps until an interrupt, then goes on', () => {
    const t = `lapis T\nconfig {\n  cpus = 2\n}\ninit {\n  P0.vmx = non-root\n}\nP0 {\n  store go = 1\n  await entered == 1\n  store woke = 1\n}\nP0 on vmexit init {\n  store entered = 1\n  vmentry activity = hlt\n}\nP1 {\n  await P0.activity == halted\n  send fixed 0x40 -> P0\n}\nD0 {\n  await go == 1\n  init -> P0\n}\nforall (P0.count(0x40) = 1 /\\ woke = 1)\n`;
    expect(run(t).ok).toBe(true);
    expect(run(t.replace('  init -> P0\n', '  init -> P0\n').replace('config {\n', 'config {\n  vendor = amd\n')).ok).toBe(false);
  });

  it('an entry with RVI above VPPR delivers the virtual interrupt to the guest', () => {
    const t = nested('  store go = 1\n  await entered == 1', 'vmentry rvi = 0x40', '', 'forall (P0.count(0x40) = 1)');
    expect(run(t).ok).toBe(true);
  });
});
