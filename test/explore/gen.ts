// Generators of small, terminating litmus tests over the features partial-order reduction must respect: shared
// memory and registers, control flow, IPIs of every mode, pins (a late or lost SMI too), TPR, EOI, MSRs and x2APIC,
// interrupt flags, SMM, SMBASE and the state-save map, VMX, waits, the I/O APIC, MSIs, hot-plug, the v2 extensions
// (RESET, LINT pins, the 8259A, a VMM's saves and restores, CPUID, RDTSC, CR8, raw MMIO, IRET, MOV SS, GIF, shutdown,
// awaits on a CPU's state), and (smallVcpuTest) vCPU scheduling under AVIC, APICv and a TPR
// shadow. Between them they use every op kind (explore.test.ts checks that against the op table).
import fc from 'fast-check';

const cpuOp = (cpus: number, pic: boolean) =>
  fc.oneof(
    fc.constantFrom('store x = 1', 'store y = 2', 'load r1 = x', 'load r2 = y', 'sti', 'cli', 'eoi', 'nop', 'pause', 'wait 3', 'hlt'),
    fc.integer({ min: 0, max: cpus - 1 }).chain((k) =>
      fc.constantFrom(`send fixed 0x40 -> P${k}`, `send fixed 0x50 -> P${k}`, `send nmi -> P${k}`, `send smi -> P${k}`, `send init -> P${k}`, `send sipi 0x10 -> P${k}`, `send lowest 0x60 -> P${k}`),
    ),
    fc.constantFrom('send fixed 0x41 -> self', 'send fixed 0x42 -> others', 'send fixed 0x43 -> all', 'apic write TPR = 0x40', 'apic write TPR = 0', 'apic read r3 = ICR_LO'),
    fc.constantFrom('r5 = r1 + 1', 'await y != 7', 'if r1 == 1 goto done', 'goto done', 'repeat 2 {\n    store x = 1\n  }'),
    fc.constantFrom('wrmsr IA32_APIC_BASE = 0xfee00d00', 'rdmsr r6 = IA32_APIC_BASE', 'wrmsr X2APIC_TPR = 0x20', 'ioapic write REDTBL1_LO = 0x18071', 'vmxon', 'vmxoff'),
    // The v2 extensions (docs/litmus.md, "What is new in v2").
    fc.constantFrom('rdtsc r7', 'cpuid r8 = 0x1.edx', 'mov cr8 = 3', 'mov r9 = cr8', 'mmio read r10 = [0xfee00030]', 'mmio write [0xfee00080] = 0x20',
      'mmio write [0xfec00000] = 0x12', 'ioapic read r11 = REDTBL1_LO', 'ioapic eoi 0x70', 'iret', 'mov ss', 'clgi', 'stgi', 'shutdown',
      'apic write LVT_LINT1 = 0x400', 'apic write LVT_LINT1 = 0x200', 'apic write LVT_LINT0 = 0x700', 'ioapic write REDTBL1_LO = 0x200', ...(pic ? ['pic write 0x21 = 0', 'pic read r12 = 0x20', 'pic write 0x20 = 0x20'] : [])),
    fc.integer({ min: 0, max: cpus - 1 }).map((k) => `await P${k}.activity == halted`),
  );

const agentOp = (cpus: number, pic: boolean) =>
  fc.oneof(
    fc.integer({ min: 0, max: cpus - 1 }).chain((k) => fc.constantFrom(`smi -> P${k}`, `nmi -> P${k}`, `init -> P${k}`, `msi P${k} vector 0x44`, `smi -> P${k} late`, `smi -> all except P${k}`)),
    fc.integer({ min: 0, max: cpus - 1 }).chain((k) => fc.constantFrom(`reset -> P${k}`, `lint1 P${k} pulse`, `vmm save P${k}`, `vmm restore P${k} lapic`,
      `vmm restore P${k} apic-base`, `vmm set P${k} nmi-pending = 1`, `vmm set P${k} smi-pending = 1`, `await P${k}.activity != active`, `msi P${k} vector 0x45 trigger=level`, `msi P${k} vector 0 mode smi`,
      ...(pic ? ['pic irq 1 pulse', 'pic irq 3 assert'] : [`lint0 P${k} assert`, `lint0 P${k} deassert`]))),
    fc.integer({ min: 1, max: cpus - 1 }).map((k) => `unplug P${k}\n  hotplug P${k}`),
    fc.constantFrom('irq 1 assert', 'irq 1 deassert', 'irq 1 pulse', 'store x = 3', 'wait 2'),
  );

const ENTRIES = ['vmentry', 'vmentry intr-window', 'vmentry nmi-window', 'vmentry activity = hlt intr-window', 'vmentry rvi = 0x40'];

export const smallTest = fc.record({ cpus: fc.integer({ min: 2, max: 3 }), pic: fc.boolean(), amd: fc.boolean(), guest: fc.boolean() }).chain(({ cpus, pic, amd, guest }) =>
  fc
    .record({
      mains: fc.array(fc.array(cpuOp(cpus, pic), { minLength: 0, maxLength: 4 }), { minLength: cpus, maxLength: cpus }),
      handler: fc.array(fc.constantFrom('store y = 1', 'eoi', 'load r4 = x', 'nop'), { maxLength: 2 }),
      smm: fc.constantFrom('smbase = 0x40000', 'smram write SMBASE = 0x48000', 'smram read r7 = SMBASE', 'smram write AUTO_HALT_RESTART = 0', 'smram read r7 = IO_RESTART'),
      agent: fc.array(agentOp(cpus, pic), { maxLength: 3 }),
      quant: fc.constantFrom('exists', 'forall'),
      entry: fc.constantFrom(...ENTRIES),
      windowEntry: fc.constantFrom(...ENTRIES),
    })
    .map(({ mains, handler, smm, agent, quant, entry, windowEntry }) => {
      const lines = ['lapis gen', 'config {', `  cpus = ${cpus}`, ...(pic ? ['  pic = true'] : []), ...(amd ? ['  vendor = amd'] : []), '}', 'init {', '  x = 0', '  y = 0', '  ioapic.1 = { vector = 0x70, trigger = level, dest = P1 }', ...(guest ? ['  P1.vmx = non-root'] : []), '}'];
      mains.forEach((ops, c) => {
        if (ops.length === 0 && c > 0) return; // starts in wait-for-SIPI
        lines.push(`P${c} {`, ...ops.map((o) => `  ${o}`), 'done:', '}');
      });
      for (let c = 0; c < cpus; c++) {
        lines.push(`P${c} on vector 0x40 {`, ...handler.map((o) => `  ${o}`), '}');
        lines.push(`P${c} on smi {`, '  store y = 3', `  ${smm}`, '  rsm', '}');
        lines.push(`P${c} on sipi {`, '  store x = 9', '}');
        lines.push(`P${c} on vmexit init {`, `  ${entry}`, '}');
        lines.push(`P${c} on vmexit intr-window {`, '  store y = 5', `  ${windowEntry}`, '}');
        lines.push(`P${c} on vmexit nmi-window {`, `  ${windowEntry}`, '}');
      }
      if (agent.length > 0) lines.push('D0 {', ...agent.map((o) => `  ${o}`), '}');
      lines.push(`observe ${Array.from({ length: cpus }, (_, c) => `P${c}.activity, P${c}.count(0x40), P${c}:r1`).join(', ')}, P1.irr(0x50), ioapic.1.remote-irr, P0.gif, P1.in-shadow(nmi), P0.count(0x8), P1.vmexits(intr-window), P1.vmexits(nmi-window), P1.vmx`);
      lines.push(`${quant} (x = 1 /\\ y = 2)`);
      return lines.join('\n') + '\n';
    }),
);

/** vCPU tests: IPIs, HLT and EOI under a hardware assist, with the host preempting, resuming and posting. */
export const smallVcpuTest = fc.record({
  cpus: fc.integer({ min: 2, max: 3 }),
  accel: fc.constantFrom('avic', 'apicv', 'tpr-shadow'),
}).chain(({ cpus, accel }) =>
  fc
    .record({
      mains: fc.array(fc.array(fc.oneof(
        fc.integer({ min: 0, max: cpus - 1 }).map((k) => `send fixed 0x40 -> P${k}`),
        fc.constantFrom('hlt', 'sti', 'cli', 'eoi', 'apic write TPR = 0x50', 'apic write TPR = 0', 'store x = 1', 'send fixed 0x41 -> others'),
      ), { maxLength: 4 }), { minLength: cpus, maxLength: cpus }),
      agent: fc.array(fc.integer({ min: 0, max: cpus - 1 }).chain((k) =>
        fc.constantFrom(`preempt P${k}`, `resume P${k}`, ...(accel === 'apicv' ? [`post 0x45 -> P${k}`] : []))), { maxLength: 3 }),
      quant: fc.constantFrom('exists', 'forall'),
    })
    .map(({ mains, agent, quant }) => {
      const lines = ['lapis gen-vcpu', 'config {', `  cpus = ${cpus}`, `  accel = ${accel}`, '}'];
      mains.forEach((ops, c) => lines.push(`P${c} {`, ...ops.map((o) => `  ${o}`), '}'));
      for (let c = 0; c < cpus; c++) lines.push(`P${c} on vector 0x40 {`, '  store y = 1', '  eoi', '}');
      if (agent.length > 0) lines.push('D0 {', ...agent.map((o) => `  ${o}`), '}');
      lines.push(`observe ${Array.from({ length: cpus }, (_, c) => `P${c}.activity, P${c}.count(0x40), P${c}.count(0x45), P${c}.running`).join(', ')}`);
      lines.push(`${quant} (x = 1 /\\ y = 1)`);
      return lines.join('\n') + '\n';
    }),
);

/**
 * Tests with interchangeable CPUs (src/explore/symmetry.ts): N members whose code is one template renamed ($ is
 * the member's number, w$ its memory word), and a BSP and an agent that treat them in families (one block per
 * member, in order) or not at all. Some draws break the symmetry on purpose (a member naming the BSP, a shared
 * word, a broadcast): the explorer must then see none, or still give the same answers.
 */
export const symmetricTest = fc.record({
  members: fc.integer({ min: 2, max: 3 }),
  main: fc.option(fc.array(fc.constantFrom('store w$ = 1', 'load r1 = w$', 'load r2 = g', 'sti', 'cli', 'nop', 'pause', 'wait 2', 'eoi',
    'send fixed 0x40 -> self', 'send fixed 0x40 -> P$', 'apic write TPR = 0x20', 'r3 = r1 + 1', 'if r1 == 1 goto done', 'hlt',
    'send fixed 0x41 -> P0', 'store g = 1', 'send fixed 0x40 -> others'), { maxLength: 3 })),
  sipi: fc.array(fc.constantFrom('store w$ = 1', 'load r1 = w$', 'store w$ = 2', 'sti', 'send fixed 0x40 -> self'), { maxLength: 2 }),
  vector: fc.array(fc.constantFrom('store w$ = 3', 'eoi', 'load r1 = w$'), { maxLength: 2 }),
  smi: fc.array(fc.constantFrom('store w$ = 4', 'nop', 'smram read r4 = AUTO_HALT_RESTART', 'smram write AUTO_HALT_RESTART = 1', 'smbase = 0x50000',
    'apic write TPR = 0x30', 'apic read r4 = TPR'), { maxLength: 2 }),
  // Every member at 0x30000 (they share a state-save map in SMM, D-26), or each at an SMBASE of its own.
  ownSmbase: fc.boolean(),
  family: fc.array(fc.constantFrom('send init -> P$', 'send sipi 0x10 -> P$', 'send nmi -> P$', 'send smi -> P$', 'send fixed 0x40 -> P$',
    'load r1 = w$', 'store w$ = 5', 'r1 = 1', 'if r1 == 1 goto skip$'), { maxLength: 3 }),
  second: fc.option(fc.array(fc.constantFrom('load r1 = w$', 'if r1 == 0 goto skip$', 'send sipi 0x10 -> P$', 'send fixed 0x40 -> P$'), { minLength: 1, maxLength: 3 })),
  bspOwn: fc.array(fc.constantFrom('nop', 'wait 3', 'r5 = 1', 'store priv = 1'), { maxLength: 2 }),
  agent: fc.array(fc.constantFrom('smi -> P$', 'nmi -> P$', 'init -> P$'), { maxLength: 2 }),
  observeActivity: fc.boolean(),
  observed: fc.integer({ min: 1, max: 3 }),
  quant: fc.constantFrom('exists', 'forall', '~exists'),
  value: fc.integer({ min: 0, max: 2 }),
}).map((g) => {
  const ids = Array.from({ length: g.members }, (_, i) => i + 1);
  const at = (op: string, k: number): string => op.replace(/\$/g, String(k));
  const family = (ops: string[]): string[] => ids.flatMap((k) => {
    const body = ops.map((o) => `  ${at(o, k)}`);
    return ops.some((o) => o.includes('goto')) ? [...body, `skip${k}:`] : body;
  });
  const lines = ['lapis gen-sym', 'config {', `  cpus = ${g.members + 1}`, '}', 'init {', '  g = 0', ...ids.map((k) => `  w${k} = 0`)];
  if (g.ownSmbase) lines.push(...ids.map((k) => `  P${k}.smbase = 0x${(0x40000 + 0x1000 * k).toString(16)}`));
  lines.push('}');
  lines.push('P0 {', ...g.bspOwn.map((o) => `  ${o}`), ...family(g.family));
  if (g.second) lines.push('  wait 10', ...family(g.second).map((l) => l.replace(/skip(\d)/, 'again$1')));
  lines.push('}');
  for (const k of ids) {
    if (g.main) lines.push(`P${k} {`, ...g.main.map((o) => `  ${at(o, k)}`), 'done:', '}');
    lines.push(`P${k} on sipi {`, ...g.sipi.map((o) => `  ${at(o, k)}`), '}');
    lines.push(`P${k} on vector 0x40 {`, ...g.vector.map((o) => `  ${at(o, k)}`), '}');
    lines.push(`P${k} on smi {`, ...g.smi.map((o) => `  ${at(o, k)}`), '  rsm', '}');
  }
  if (g.agent.length > 0) lines.push('D0 {', ...ids.flatMap((k) => g.agent.map((o) => `  ${at(o, k)}`)), '}');
  const seen = ids.slice(0, Math.min(g.observed, g.members));
  if (g.observeActivity) lines.push(`observe ${ids.map((k) => `P${k}.activity, P${k}.count(0x40)`).join(', ')}`);
  if (g.smi.some((o) => o.includes('read r4'))) lines.push(`observe ${ids.map((k) => `P${k}:r4`).join(', ')}`);
  lines.push(`${g.quant} (${seen.map((k) => `w${k} = ${g.value}`).join(' /\\ ')})`);
  return lines.join('\n') + '\n';
});
