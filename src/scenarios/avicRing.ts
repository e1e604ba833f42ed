// The explorer benchmark for vCPU scenarios: N vCPUs under AMD AVIC, each sending a fixed IPI to the next and then
// halting (so the incomplete-IPI path runs whenever a target has blocked first), while a host agent preempts and
// resumes P1. Every vCPU must take its IPI exactly once (APM Vol 2 15.29.3.2; seed 001's question at scale).
// Partial-order reduction is off for vCPU tests, so this measures the explorer's raw speed on them.

export function avicRingLitmus(n: number): string {
  const ids = Array.from({ length: n }, (_, i) => i);
  const lines = [`lapis avic-ring-${n}`, `"${n} vCPUs under AVIC in a ring of IPIs, one preempted and resumed: each takes its IPI once."`, '', 'config {', `  cpus = ${n}`, '  accel = avic', '}', ''];
  for (const k of ids) lines.push(`P${k} {`, `  send fixed 0x80 -> P${(k + 1) % n}`, '  hlt', '}', '', `P${k} on vector 0x80 {`, '  eoi', '}', '');
  lines.push('D0 {', '  preempt P1', '  resume P1', '}', '', `forall (${ids.map((k) => `P${k}.count(0x80) = 1`).join(' /\\ ')})`, '');
  return lines.join('\n');
}
