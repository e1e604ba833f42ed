// Register access helpers shared by the local APIC tests.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { Machine, Reg, type MachineConfig } from '../../src/index.js';
import { runTest } from '../../src/explore/run.js';
import { parseLitmus } from '../../src/litmus/parse.js';
import { findProfile } from '../../src/sim/profiles.js';

export function machine(config: Partial<MachineConfig> = {}): Machine {
  return new Machine({ cpus: 2, ...config });
}

/** An xAPIC register read that must decode. */
export function rd(m: Machine, cpu: number, offset: number): number {
  const v = m.apicRead(cpu, offset);
  if (v === undefined) throw new Error(`APIC of CPU ${cpu} did not decode offset 0x${offset.toString(16)}`);
  return v;
}

/** An xAPIC register write that must decode. */
export function wr(m: Machine, cpu: number, offset: number, value: number): void {
  if (!m.apicWrite(cpu, offset, value)) throw new Error(`APIC of CPU ${cpu} did not decode offset 0x${offset.toString(16)}`);
}

/** Publish the ESR latch and read it (SDM Vol 3A 11.5.3: write, then read). */
export function esr(m: Machine, cpu: number): number {
  wr(m, cpu, Reg.ESR, 0);
  return rd(m, cpu, Reg.ESR);
}

/** A machine whose CPU 0 has its APIC software-enabled, and the times at which CPU 0's timer fired. */
export function timed(config: Partial<MachineConfig> = {}): { m: Machine; fires: number[] } {
  const fires: number[] = [];
  const m = new Machine({
    cpus: 2,
    ...config,
    onTrace: (e) => {
      if (e.cpu === 0 && e.text === 'apic: timer fired') fires.push(e.time);
    },
  });
  wr(m, 0, Reg.SVR, 0x1ff);
  return { m, fires };
}

/**
 * Let time pass to `t` one expiry at a time, so that `fires` sees every expiry (advanceTo coalesces the expiries
 * of one jump; test/apic/clock.test.ts checks that the two agree).
 */
export function advance(m: Machine, t: number): void {
  for (let d = m.nextDeadline(); d <= t; d = m.nextDeadline()) m.advanceTo(d);
  m.advanceTo(t);
}

/** A catalog test under a profile, explored completely: its answer and the outcome keys. */
export function catalogOutcomes(file: string, profile: string): { ok: boolean; outcomes: string[] } {
  const parsed = parseLitmus(readFileSync(new URL(`../../litmus/${file}`, import.meta.url), 'utf8'), file);
  if (!parsed.ok) throw new Error(`${file} does not parse`);
  const { answer, result } = runTest(parsed.test, findProfile(profile)!, {});
  expect(answer.complete).toBe(true);
  return { ok: answer.ok, outcomes: result!.outcomes.map((o) => o.key) };
}

/**
 * The profile gives exactly `outcome` for a catalog test (what every run of it on the backend gave), so the test's
 * answer is No there; spec, whose answer is Ok, does not allow it.
 */
export function expectProfileGivesOnly(file: string, profile: string, outcome: string): void {
  const got = catalogOutcomes(file, profile);
  expect(got.ok).toBe(false);
  expect(got.outcomes).toEqual([outcome]);
  const spec = catalogOutcomes(file, 'spec');
  expect(spec.ok).toBe(true);
  expect(spec.outcomes).not.toContain(outcome);
}
