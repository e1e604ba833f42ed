// Platform agent ops: the SMI#, NMI and INIT# pins (`smi -> Pk`), an SMI the platform delivers late or not at all
// (`smi -> Pk late`, `smi -> all except Pk`: seed 000's lost SMI), I/O APIC input pins (`irq GSI assert`),
// message-signalled interrupts (`msi DEST vector V`, SDM Vol 3A 11.11 Message Signalled Interrupts) and ACPI CPU
// hot-plug (`hotplug Pk`, `unplug Pk`).

import { deliveryMode } from '../../arch/apic.js';
import type { DeliveryModeName } from '../ast.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';
import { printDest } from '../format.js';
import { describe as describeToken } from '../lexer.js';
import { IOAPIC_PINS, PLATFORM_MODE_NAMES } from '../names.js';
import { cpuRef, levelTrigger, modeName, parseDest, vectorNum } from '../syntax.js';
import { asmHex } from './asm.js';
import { destField, resolveDest } from './dest.js';
import { destName } from './send.js';
import type { AnalyzeCtx, CpuOp, EmitCtx, ExecCtx, FootprintCtx, OpDef, OpFamily, ParseFn, RefsCtx } from './types.js';

const CPU_SENDS = '; a CPU sends an IPI with `send MODE [V] -> DEST`';
const hex2 = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;

/** GSIs no ISA IRQ line reaches on QEMU's pc/q35 (hw/intc/ioapic.c: ISA IRQ n -> pin n, IRQ 0 -> pin 2; pin 0 is
 *  the 8259's ExtINT input, pins 16-23 are PCI interrupts) or that another device drives: pin 2 is ISA IRQ 0,
 *  PIT channel 0's output, which the firmware leaves running at 18.2 Hz. */
const IRQ_LINE_REFUSED: Record<number, string> = {
  0: 'pin 0 is the 8259\'s ExtINT input: no ISA IRQ line reaches it (QEMU maps ISA IRQ 0 to pin 2)',
  2: 'pin 2 is ISA IRQ 0, the output of PIT channel 0, which the firmware leaves running at 18.2 Hz: the test would not drive it alone',
};

const signal: ParseFn = (p, t) => {
  p.next();
  const word = t.text as 'smi' | 'nmi' | 'init';
  p.expect('->', `after \`${word}\` (\`${word} -> Pk\`)`);
  const tt = p.peek();
  const onlySmi = (k: Token): void => {
    if (word !== 'smi') p.fail(k.pos, `\`${k.text}\` is for an SMI the platform misses (\`smi -> Pk late\`, \`smi -> all except Pk\`), not for ${word.toUpperCase()}`);
  };
  if (p.accept('all')) {
    const k = p.peek();
    if (!p.accept('except')) return { kind: 'signal', signal: word, target: 'all', pos: t.pos };
    onlySmi(k);
    return { kind: 'smi-missed', how: 'lost', cpu: cpuRef(p, 'the CPU the SMI misses (`Pk`) after `smi -> all except`'), pos: t.pos };
  }
  const target = cpuRef(p, `a CPU (\`Pk\`) or \`all\` after \`${word} ->\``, tt);
  const k = p.peek();
  if (!p.accept('late')) return { kind: 'signal', signal: word, target, pos: t.pos };
  onlySmi(k);
  return { kind: 'smi-missed', how: 'late', cpu: target, pos: t.pos };
};

const missedText = (op: { how: 'late' | 'lost'; cpu: number }): string => (op.how === 'late' ? `smi -> P${op.cpu} late` : `smi -> all except P${op.cpu}`);

const plug: ParseFn = (p, t) => {
  p.next();
  const cpu = cpuRef(p, `a CPU (\`Pk\`) after \`${t.text}\``);
  return t.text === 'hotplug' ? { kind: 'hotplug', cpu, pos: t.pos } : { kind: 'unplug', cpu, pos: t.pos };
};

/**
 * ACPI CPU hot-plug: a processor appears in an empty slot in wait-for-SIPI, or leaves one. On a backend, `hotplug Pk`
 * asks the host to add the CPU (QMP device_add, src/backends/run.ts) and waits until the platform's CPU hot-plug
 * register shows it present; `unplug` is refused (QEMU removes a CPU only when the guest's ACPI ejects it).
 */
function plugDef(kind: 'hotplug' | 'unplug'): OpDef<'hotplug'> & OpDef<'unplug'> {
  const refuse = 'CPU hot-unplug: QEMU removes a CPU only once the guest ejects it through ACPI (device_del waits for _EJ0), which the runtime does not do';
  return {
    where: 'agent',
    print: (op: CpuOp) => `${kind} P${op.cpu}`,
    refs: (op: CpuOp, r: RefsCtx) => r.cpu(op.cpu, op.pos),
    describe: (op: CpuOp) => `${kind} P${op.cpu}`,
    exec(op: CpuOp, x: ExecCtx) {
      if (kind === 'hotplug') x.hotplug(op.cpu);
      else x.unplug(op.cpu);
      return x.pc + 1;
    },
    footprint(op: CpuOp, f: FootprintCtx) {
      f.writeCpu(op.cpu);
      f.writeCpuConfig(op.cpu);
    },
    analyze: (_op: CpuOp, a: AnalyzeCtx) => (kind === 'hotplug' ? a.need('hotplug') : a.refuse('hotplug', refuse)),
    emit(op: CpuOp, e: EmitCtx) {
      if (kind === 'unplug') e.refuse('hotplug', refuse);
      e.out.push('  LIT_EVENT_LONG', `  mov eax, ${op.cpu}`, '  call lit_hotplug                   ; the host adds it (QMP device_add); wait until present');
    },
  };
}

export const platform: OpFamily<'signal' | 'smi-missed' | 'irq' | 'msi' | 'hotplug' | 'unplug'> = {
  parse: {
    smi: signal,
    nmi: signal,
    init: signal,
    irq(p: Cursor, t: Token) {
      p.next();
      const n = p.expectNum('an I/O APIC input pin (GSI) after `irq`');
      const gsi = p.small(n, IOAPIC_PINS - 1, 'the I/O APIC pin of `irq`');
      const a = p.expectName('`assert`, `deassert` or `pulse` after `irq GSI`');
      if (a.text !== 'assert' && a.text !== 'deassert' && a.text !== 'pulse') {
        p.fail(a.pos, `expected \`assert\`, \`deassert\` or \`pulse\` after \`irq ${n.text}\`, found ${describeToken(a)}`);
      }
      return { kind: 'irq', gsi, action: a.text, pos: t.pos };
    },
    msi(p, t) {
      p.next();
      const dest = parseDest(p, false);
      p.expect('vector', 'after the MSI destination (`msi DEST vector V`)');
      const vector = vectorNum(p, p.expectNum('a vector after `vector`'));
      let mode: DeliveryModeName | null = null;
      if (p.accept('mode')) mode = modeName(p, PLATFORM_MODE_NAMES, 'an MSI delivery mode after `mode`');
      // The data register's trigger mode (bit 15) and level (bit 14), as `send` writes them (extension).
      const { level, trigger } = levelTrigger(p, 'msi');
      return { kind: 'msi', dest, vector, mode, trigger, level, pos: t.pos };
    },
    hotplug: plug,
    unplug: plug,
  },
  defs: {
    signal: {
      where: 'agent',
      whereHint: CPU_SENDS,
      word: (op) => `${op.signal} -> ...`,
      print: (op) => `${op.signal} -> ${op.target === 'all' ? 'all' : `P${op.target}`}`,
      refs(op, r) {
        if (op.target !== 'all') r.cpu(op.target, op.pos);
      },
      describe: (op) => `${op.signal} -> ${op.target === 'all' ? 'all' : `P${op.target}`}`,
      exec(op, x) {
        if (op.target !== 'all') x.signal(op.signal, op.target);
        else for (let t = 0; t < x.machine.cpus.length; t++) x.signal(op.signal, t);
        return x.pc + 1;
      },
      footprint(op, f) {
        if (op.target === 'all') f.writeAllCpus();
        else f.writeCpu(op.target);
      },
      analyze(op, a) {
        if (op.target === 'all' && op.signal !== 'nmi') a.refuse('spare-cpu', `${op.signal.toUpperCase()} to every processor would reach the spare CPUs that run the coordinator${op.signal === 'smi' ? ', and they share one SMBASE' : ''}`);
        if (op.signal === 'init' && op.target === 0) a.refuse('bsp-init', 'INIT to the BSP sends it to the firmware on a real machine');
        if (op.signal === 'smi' && op.target !== 'all') a.smiTo([op.target]);
        if (op.signal === 'nmi') a.need('nmi');
        if (op.signal === 'init' && op.target !== 'all') a.initTo([op.target]);
      },
      emit(op, e) {
        const mode = { smi: 'ICR_SMI', nmi: 'ICR_NMI', init: 'ICR_INIT' }[op.signal];
        e.out.push('  LIT_EVENT_LONG');
        if (op.target === 'all') {
          e.out.push(`  SEND ${mode} | ICR_ASSERT | ICR_OTHERS, 0   ; the pin of every processor: an IPI to all but this spare`);
        } else {
          if (op.signal === 'init') e.out.push(`  LIT_INIT_SENT ${op.target}`);
          e.out.push(`  SEND ${mode} | ICR_ASSERT, ${op.target}           ; the platform's ${op.signal.toUpperCase()}: an IPI from spare ${e.apicId}`);
        }
      },
    },
    'smi-missed': {
      where: 'agent',
      whereHint: CPU_SENDS,
      word: (op) => (op.how === 'late' ? 'smi -> ... late' : 'smi -> all except ...'),
      print: missedText,
      refs: (op, r) => r.cpu(op.cpu, op.pos),
      describe: missedText,
      // Late: the agent offers the SMI at every later step, time passing included, and the explorer chooses when it
      // arrives; a run cannot end before it does. Lost: the other CPUs' SMI# pins, in this step.
      pauses: (op) => op.how === 'late',
      exec(op, x) {
        if (op.how === 'late') {
          x.trace(`the platform's SMI reaches P${op.cpu} late`);
          x.signal('smi', op.cpu);
        } else {
          x.trace(`the platform's SMI misses P${op.cpu}`);
          for (let t = 0; t < x.machine.cpus.length; t++) if (t !== op.cpu) x.signal('smi', t);
        }
        return x.pc + 1;
      },
      footprint(op, f) {
        if (op.how === 'late') f.writeCpu(op.cpu);
        else f.writeAllCpus();
      },
      analyze(op, a) {
        if (op.how === 'late') a.refuse('other', 'a late SMI arrives at whichever later step the explorer chooses, time passing included; a guest run would try one instant and could not say which, so its outcomes could not be judged against the ones the model gives');
        const others = Array.from({ length: a.settings.cpus }, (_, c) => c).filter((c) => c !== op.cpu);
        a.smiTo(others);
      },
      emit(op, e) {
        // The platform's broadcast SMI, lost for one CPU: an SMI IPI to each of the test's other CPUs (never to the
        // spares, which run the coordinator).
        e.out.push('  LIT_EVENT_LONG');
        for (const t of e.targets({ kind: 'all', pos: op.pos }).cpus) if (t !== op.cpu) e.out.push(`  SEND ICR_SMI | ICR_ASSERT, ${t}           ; the platform's SMI, which misses P${op.cpu}`);
      },
    },
    irq: {
      where: 'agent',
      print: (op) => `irq ${op.gsi} ${op.action}`,
      validate(op, v) {
        if (!v.settings.ioapic) v.error(op.pos, '`irq` needs the I/O APIC, but the test has `ioapic = false`');
      },
      refs: () => {},
      describe: (op) => `irq ${op.gsi} ${op.action}`,
      exec(op, x) {
        if (op.action === 'pulse') x.machine.pulse(op.gsi);
        else x.machine.irq(op.gsi, op.action === 'assert');
        return x.pc + 1;
      },
      footprint(_op, f) {
        f.writeIoapic();
        if (f.future) f.writeAllCpus();
      },
      analyze(op, a) {
        const r = IRQ_LINE_REFUSED[op.gsi];
        if (r !== undefined) a.refuse('ioapic-msi', r);
        if (op.gsi >= 16) a.refuse('ioapic-msi', `GSI ${op.gsi} is a PCI interrupt pin (16-23): pc-testdev drives only ISA IRQ lines 0-15, which QEMU wires to pins 1 and 3-15 one to one`);
        a.irqLine(op.gsi);
      },
      emit(op, e) {
        // pc-testdev: port 0x2000 + n sets ISA IRQ line n (QEMU wires it to I/O APIC pin n; guest/ioapic.asm).
        const lvl = op.action === 'deassert' ? [0] : op.action === 'assert' ? [1] : [1, 0];
        e.out.push('  LIT_EVENT');
        for (const l of lvl) e.out.push(`  mov eax, ${op.gsi}`, `  mov edx, ${l}`, `  call lit_irq_line                  ; ISA IRQ ${op.gsi} ${l ? 'high' : 'low'} (pin ${op.gsi})`);
        e.out.push('  LIT_EVENT');
      },
    },
    msi: {
      where: 'agent',
      whereHint: CPU_SENDS,
      print: (op) => `msi ${printDest(op.dest)} vector ${hex2(op.vector)}${op.mode === null ? '' : ` mode ${op.mode}`}${op.level === null ? '' : ` level=${op.level}`}${op.trigger === null ? '' : ` trigger=${op.trigger}`}`,
      refs: (op, r) => r.dest(op.dest),
      describe: (op) => `msi -> ${destName(op.dest)} vector 0x${op.vector.toString(16)}`,
      exec(op, x) {
        const m = x.machine, d = resolveDest(m, op.dest);
        m.send(0, {
          vector: op.vector, mode: deliveryMode(op.mode ?? 'fixed'), levelTriggered: op.trigger === 'level', assert: op.level !== 'deassert', logical: d.logical,
          shorthand: d.shorthand, destination: d.destination, x2apic: m.apics.some((a) => a.isX2apic()) && d.destination > 0xff,
        });
        return x.pc + 1;
      },
      footprint: (op, f) => f.dest(op.dest, op.mode === 'lowest'),
      analyze(op, a) {
        const mode = op.mode ?? 'fixed';
        if (mode !== 'fixed' && mode !== 'lowest' && mode !== 'nmi') a.refuse('ioapic-msi', `an MSI with delivery mode ${mode} (not compiled: it may reach the BSP or a spare, or needs SMBASE handling)`);
        if (op.dest.kind !== 'cpu' && op.dest.kind !== 'phys' && op.dest.kind !== 'logical') a.refuse('ioapic-msi', 'an MSI has no destination shorthand');
        if (a.targets(op.dest).spare) a.refuse('ioapic-msi', 'the MSI may reach the spare CPUs that run the coordinator');
        if (mode !== 'nmi' && op.vector >= 16 && op.vector < 32) a.refuse('vector-lt-32', 'vectors 16-31 are exceptions in the guest (0-15 are illegal: SDM Vol 3A 11.5.2, the APIC never accepts them)');
        if (mode === 'nmi') a.need('nmi');
        a.need('msi');
      },
      emit(op, e) {
        // SDM Vol 3A 11.11.1 Message Address Register: 0xFEE, destination ID in bits 19:12, RH bit 3, DM bit 2
        // (logical: RH = DM = 1, so that both readings of DM agree); 11.11.2 Message Data Register: vector,
        // delivery mode bits 10:8, level bit 14 (assert), trigger bit 15 (edge).
        const logical = op.dest.kind === 'logical';
        const addr = (0xfee00000 | ((destField(op.dest) & 0xff) << 12) | (logical ? 0xc : 0)) >>> 0;
        const data = (op.vector | (deliveryMode(op.mode ?? 'fixed') << 8) | (op.level === 'deassert' ? 0 : 1 << 14) | (op.trigger === 'level' ? 1 << 15 : 0)) >>> 0;
        e.out.push(op.mode === 'nmi' ? '  LIT_EVENT_LONG' : '  LIT_EVENT', `  mov eax, ${asmHex(addr)}`, `  mov edx, ${asmHex(data)}`, '  call lit_msi_send                  ; the edu device sends the message');
      },
    },
    hotplug: plugDef('hotplug'),
    unplug: plugDef('unplug'),
  },
};
