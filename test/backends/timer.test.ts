// The APIC timer on real backends (docs/conformance.md, "The APIC timer"): a test that arms it runs with one model
// tick = TIMER_WAIT_US_PER_TICK µs of guest time, its TIMER_ICR values scaled to timer ticks calibrated at boot;
// only tests whose outcome cannot turn on the host's delays are compiled, each other one is refused with the op and
// tick that make it timing-dependent.

import { describe, expect, it } from 'vitest';
import { backendRefusal, compileTest } from '../../src/backends/compile.js';
import { conform } from '../../src/backends/conform.js';
import { backend, BOOT_TEST_MS, expectJudged, load, parse, ran, refusal, text, useRunTempDir } from './helpers.js';

useRunTempDir('timer');

const refusalOf = (file: string) => refusal(load(file));

describe('compiler', () => {
  it('scales TIMER_ICR writes and TIMER_CCR reads, and waits at the timer tests\' tick', () => {
    const c = compileTest(load('litmus/timer-masked-one-shot-lost.litmus'));
    expect(c.asm).toMatch(/%define LIT_TIMER_WAIT_US 200/);
    expect(c.asm).toMatch(/mul dword \[lit_timer_k\]/);
    expect(c.asm).toMatch(/div dword \[lit_timer_k\]/);
    expect(c.asm).toMatch(/mov eax, 4000 {21}; 200 µs a tick/); // wait 20
  });

  it('refuses each timing-dependent timer test on a host-clocked backend, with the op and tick that make it so', () => {
    const hostClocked = (file: string) => backendRefusal(compileTest(load(file)), backend('qemu-kvm'));
    expect(hostClocked('litmus/timer-one-shot.litmus')?.reason).toMatch(/op runs at tick 5, before the count armed at line 13 expires at tick 10/);
    expect(hostClocked('litmus/timer-periodic.litmus')?.reason).toMatch(/ops run at tick 35 after the periodic count/);
    expect(hostClocked('litmus/timer-divide-change-midcount.litmus')?.category).toBe('apic-timer');
    expect(hostClocked('litmus/timer-divide-change-midcount.litmus')?.reason).toMatch(/keeps the host's time/);
    // A one-shot <-> periodic switch of a loaded count: spec disarms it (D-7), KVM and QEMU count on.
    expect(hostClocked('litmus/timer-mode-switch-expired-stays-zero.litmus')?.reason).toMatch(/ops run after the timer mode switch at line 17/);
    // Bochs's timer and TSC advance with its instructions, QEMU TCG's with -icount: the same tests run there.
    for (const b of ['bochs', 'qemu-tcg', 'qemu10-tcg']) {
      for (const f of ['timer-one-shot', 'timer-periodic', 'timer-divide-change-midcount']) expect(backendRefusal(compileTest(load(`litmus/${f}.litmus`)), backend(b)), `${f} on ${b}`).toBeNull();
    }
    // -icount only for the tests that need it: the others keep QEMU's multi-threaded TCG.
    const args = (file: string): string => backend('qemu-tcg').launch('d.img', '/tmp', compileTest(load(file)).machine).args.join(' ');
    expect(args('litmus/timer-one-shot.litmus')).toMatch(/ -icount shift=7,sleep=off( |$)/);
    expect(args('litmus/timer-masked-one-shot-lost.litmus')).not.toMatch(/icount/);
    expect(args('litmus/timer-mode-switch-expired-stays-zero.litmus')).toMatch(/ -icount shift=7,sleep=off( |$)/);
    // What no machine can give an outcome for is refused by the compiler itself.
    expect(refusalOf('litmus/timer-periodic-never-final.litmus').reason).toMatch(/never stopped: the model has no final state/);
  });

  it('converts IA32_TSC_DEADLINE between model ticks and the machine\'s TSC, and analyses a deadline like a count', () => {
    const c = compileTest(load('litmus/timer-tsc-deadline.litmus'));
    expect(c.asm).toMatch(/call lit_deadline_tsc/);
    expect(c.asm).toMatch(/call lit_tsc_deadline/);
    expect(c.needs.tscDeadlineMode).toBe(true);
    // `wait 40` then a load, before the deadline at tick 50: timing on a host clock, one outcome on Bochs's.
    expect(backendRefusal(c, backend('qemu-kvm'))?.reason).toMatch(/op runs at tick 40, before the count armed at line 13 expires at tick 50/);
    expect(backendRefusal(c, backend('bochs'))).toBeNull();
    expect(backendRefusal(c, backend('qemu-tcg'))?.reason).toMatch(/no TSC-deadline mode/);
    // A deadline the main block read from the TSC has passed when it is written: it fires at the write, which no
    // later op races, so a host-clocked backend runs the test too.
    for (const f of ['kut-apic-tsc-deadline-at-once', 'kut-apic-tsc-deadline']) {
      const k = compileTest(load(`litmus/${f}.litmus`));
      expect(k.needs.timerTiming, f).toBeNull();
      expect(backendRefusal(k, backend('qemu-kvm')), f).toBeNull();
    }
    const src = (ops: string, handler = '  eoi'): string => `lapis t\nconfig { cpus = 1 }\nP0 {\n  apic write LVT_TIMER = 0x40030\n${ops}\n}\nP0 on vector 0x30 {\n${handler}\n}\nexists (true)\n`;
    expect(refusal(parse(src('  rdtsc r1\n  rdmsr r1 = IA32_APIC_BASE\n  wrmsr IA32_TSC_DEADLINE = r1'))).reason).toMatch(/a computed IA32_TSC_DEADLINE \(line 7\) other than a TSC the main block read/);
    expect(refusal(parse(src('  wrmsr IA32_TSC_DEADLINE = 0x100000000'))).reason).toMatch(/below 2\^32 ticks/);
    expect(refusal(parse(src('  wait 5', '  wrmsr IA32_TSC_DEADLINE = 9\n  eoi'))).reason).toMatch(/a handler writes IA32_TSC_DEADLINE/);
    expect(refusal(parse(src('  wrmsr IA32_TSC_DEADLINE = 10\n  wait 9\n  nop'))).reason).toMatch(/op runs at tick 9, within 2 ticks of the expiry at tick 10/);
    // 0 disarms: the op at the old expiry races nothing; outside TSC-deadline mode the write is ignored (SDM Vol 3A
    // 11.5.4.1).
    expect(() => compileTest(parse(src('  wrmsr IA32_TSC_DEADLINE = 10\n  wait 5\n  wrmsr IA32_TSC_DEADLINE = 0\n  wait 5\n  nop')))).not.toThrow();
    expect(compileTest(parse(src('  apic write LVT_TIMER = 0x30\n  wrmsr IA32_TSC_DEADLINE = 10\n  wait 9\n  nop'))).needs.timerTiming).toBeNull();
  });

  it('runs a timer beside other CPUs only when they first await a word the timer\'s CPU stores after its counts', () => {
    expect(() => compileTest(load('litmus/seed-004-ap-init-clears-irr.litmus'))).not.toThrow();
    const src = (p0: string, p1Tail = '  wait 30\n  store go = 1'): string =>
      `lapis t\nconfig { cpus = 2 }\nP1 {\n  apic write LVT_TIMER = 0x30\n  apic write TIMER_ICR = 10\n${p1Tail}\n}\nP1 on vector 0x30 {\n  eoi\n}\nP0 {\n${p0}\n}\nexists (true)\n`;
    expect(() => compileTest(parse(src('  await go == 1\n  wait 3\n  send fixed 0x40 -> P1')))).not.toThrow();
    expect(refusal(parse(src('  send fixed 0x40 -> P1'))).reason).toMatch(/P0 runs ops that are not ordered after it/);
    expect(refusal(parse(src('  await go == 1', '  wait 5\n  store go = 1'))).reason).toMatch(/stores go at tick 5, which P0 awaits, while the count armed at line 5 may still run/);
    expect(refusal(parse(src('  await go == 0'))).reason).toMatch(/not ordered after it/);
  });

  it('refuses an op within the margin of an expiry on every backend, a periodic one included', () => {
    const src = (ops: string, lvt = '0x30'): string => `lapis t\nconfig { cpus = 1 }\nP0 {\n  apic write TIMER_DCR = 0xb\n  apic write LVT_TIMER = ${lvt}\n  apic write TIMER_ICR = 10\n${ops}\n}\nP0 on vector 0x30 {\n  eoi\n}\nexists (true)\n`;
    expect(refusal(parse(src('  wait 9\n  nop'))).reason).toMatch(/op runs at tick 9, within 2 ticks of the expiry at tick 10/);
    expect(refusal(parse(src('  wait 31\n  apic write TIMER_ICR = 0', '0x20030'))).reason).toMatch(/op runs at tick 31, within 2 ticks of the expiry at tick 30/);
    expect(() => compileTest(parse(src('  wait 25\n  apic write TIMER_ICR = 0', '0x20030')))).not.toThrow();
    // A count stopped (TIMER_ICR = 0) before its expiry: later ops do not race it.
    expect(() => compileTest(parse(src('  wait 5\n  apic write TIMER_ICR = 0\n  wait 5\n  nop')))).not.toThrow();
  });

  it('refuses TSC-deadline mode per backend where the backend has none', () => {
    const c = compileTest(load('litmus/timer-tsc-deadline-ignores-icr.litmus'));
    expect(backendRefusal(c, backend('qemu-tcg'))?.reason).toMatch(/no TSC-deadline mode/);
    expect(backendRefusal(c, backend('bochs'))).toBeNull();
  });
});

describe.each(['qemu-tcg', 'bochs'])('%s', (name) => {
  const b = backend(name);
  it.each(['litmus/timer-masked-one-shot-lost.litmus', 'litmus/timer-masked-periodic-final.litmus'])('%s: every outcome allowed by spec', async (file) => {
    const r = ran(await conform(load(file), { backend: b, runs: 20 }));
    expectJudged(r, 20);
    expect(r.forbidden, text(r)).toBe(0);
  }, BOOT_TEST_MS);

  it('seed-004: the held timer vector, exactly as the backend\'s profile has it', async () => {
    const r = ran(await conform(load('litmus/seed-004-stale-irr-after-soft-disable.litmus'), { backend: b, runs: 20 }));
    expectJudged(r, 20);
    // QEMU 7.2 keeps the bit in IRR (as KVM before 2019); Bochs delivers it after re-enabling (its profile).
    const key = name === 'qemu-tcg' ? 'P0.count(0xff)=0; P0.count(0xec)=0; P0.irr(0xec)=1' : 'P0.count(0xff)=0; P0.count(0xec)=1; P0.irr(0xec)=0';
    expect(r.outcomes.map((o) => o.key), text(r)).toEqual([key]);
    expect(r.outcomes[0].allowedBy).toContain(name === 'qemu-tcg' ? 'qemu-tcg-7.2' : 'bochs-2.7');
  }, BOOT_TEST_MS);
});

describe.each(['bochs', 'qemu-tcg'])('%s: timer tests that host delays would decide on a host clock', (name) => {
  const b = backend(name);
  // Bochs's APIC timer, TSC and PIT all count its instructions (cpu/apic.cc schedules the expiry in
  // bx_pc_system ticks), and so do QEMU's under -icount: each test gives one outcome in every run.
  it.each([
    ['timer-one-shot', 'P0:r1=0; P0.count(0x30)=1; P0:r2=0', true],
    ['timer-periodic', 'P0.count(0x30)=3', true],
    // Bochs 2.7 set_divide_configuration and QEMU's apic_mem_write (APIC_TDCR) change the factor without
    // rescheduling the armed count: it fires at tick 10, not at 4 + 6 x 2 = 16 (D-7).
    ['timer-divide-change-midcount', 'P0:r1=1; P0:r2=1; P0.count(0x30)=1', false],
    // Two CPUs, the second ordered after the timer by an await.
    ['seed-004-ap-init-clears-irr', 'P1:r1=0; P1.count(sipi)=1', true],
  ] as const)('%s: one outcome in every run', async (name, key, allowed) => {
    const r = ran(await conform(load(`litmus/${name}.litmus`), { backend: b, runs: 10 }));
    expectJudged(r, 10);
    expect(r.outcomes.map((o) => o.key), text(r)).toEqual([key]);
    expect(r.forbidden === 0, text(r)).toBe(allowed);
  }, BOOT_TEST_MS);

  if (name === 'bochs') {
    // The deadline reads back as written (the guest's two conversions are exact inverses): Bochs keeps it after
    // firing (quirk tscDeadlineKeptOnFire); a mode switch disarms it.
    it.each([
      ['timer-tsc-deadline', 'P0:r1=0; P0.count(0x30)=1; P0:r2=0x32; P0.faults=0', 'bochs-2.7'],
      ['timer-switch-from-deadline-disarms', 'P0.count(0x30)=0', null],
    ] as const)('%s: one outcome in every run', async (file, key, profile) => {
      const r = ran(await conform(load(`litmus/${file}.litmus`), { backend: b, runs: 10 }));
      expectJudged(r, 10);
      expect(r.outcomes.map((o) => o.key), text(r)).toEqual([key]);
      if (profile) expect(r.outcomes[0].allowedBy).toContain(profile);
      else expect(r.forbidden, text(r)).toBe(0);
    }, BOOT_TEST_MS);
  }

  it('timer-mode-switch-expired-stays-zero: Bochs keeps the expired count at 0; QEMU restarts it, as its profile has it', async () => {
    const r = ran(await conform(load('litmus/timer-mode-switch-expired-stays-zero.litmus'), { backend: b, runs: 10 }));
    expectJudged(r, 10);
    expect(r.outcomes.map((o) => o.key), text(r)).toEqual([name === 'qemu-tcg' ? 'P0:r1=1' : 'P0:r1=0']);
    if (name === 'qemu-tcg') expect(r.outcomes[0].allowedBy).toEqual(expect.arrayContaining(['qemu-tcg-7.2', 'qemu10-tcg']));
  }, BOOT_TEST_MS);
});
