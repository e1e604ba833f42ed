// The `config { ... }` and `init { ... }` blocks: `key = value` items, one a line (or separated by `;`).

import type { ConfigBlock, ConfigEntry, InitBlock, InitItem, RedirectionEntry } from './ast.js';
import { Cursor, within } from './cursor.js';
import { describe, type Token } from './lexer.js';
import { apicRegName, parseDest, vectorNum } from './syntax.js';
import {
  ACCELS, ACTIVITY_NAMES, APIC_MODE_NAMES, CONFIG_KEYS, IOAPIC_PINS, PLATFORM_MODE_NAMES, MAX_CPUS, REG_COUNT, VMX_MODE_NAMES,
  didYouMean, isGpr, oneOf, reservedWord,
} from './names.js';

/** Parses `{ item ... }`, calling `item` for each; errors in an item are reported and the line skipped. */
function items(p: Cursor, what: string, item: () => void): void {
  const open = p.expect('{', `after \`${what}\``);
  for (;;) {
    p.skipSeparators();
    if (p.accept('}')) return;
    if (p.peek().kind === 'eof') p.fail(p.peek().pos, `expected \`}\` to close the \`${what}\` block opened at line ${open.pos.line}, found end of file`);
    try {
      item();
      p.endOfItem(`a \`${what}\` item`);
    } catch (e) {
      p.report(e);
      p.skipLine();
    }
  }
}

export function parseConfig(p: Cursor): ConfigBlock {
  const pos = p.next().pos;
  const entries: ConfigEntry[] = [];
  items(p, 'config', () => {
    const k = p.expectName(`a config key (${oneOf(CONFIG_KEYS)})`);
    p.expect('=', `after \`${k.text}\``);
    const v = p.next();
    const e = configEntry(p, k, v);
    if (e === null) return;
    const dup = entries.find((x) => x.key === e.key);
    if (dup) p.error(k.pos, `\`${k.text}\` is already set at line ${dup.pos.line}`);
    else entries.push(e);
  });
  return { entries, pos };
}

function configEntry(p: Cursor, k: Token, v: Token): ConfigEntry | null {
  const pos = k.pos;
  const bool = (): boolean => {
    if (v.text !== 'true' && v.text !== 'false') p.fail(v.pos, `expected \`true\` or \`false\` for \`${k.text}\`, found ${describe(v)}`);
    return v.text === 'true';
  };
  const num = (min: number, max: number): number => {
    if (v.kind !== 'num') p.fail(v.pos, `expected a number for \`${k.text}\`, found ${describe(v)}`);
    return p.small(v, max, `\`${k.text}\``, min);
  };
  switch (k.text) {
    case 'cpus':
      return { key: 'cpus', value: num(1, MAX_CPUS), pos };
    case 'vendor':
      if (v.text !== 'intel' && v.text !== 'amd') p.fail(v.pos, `expected \`intel\` or \`amd\` for \`vendor\`, found ${describe(v)}`);
      return { key: 'vendor', value: v.text, pos };
    case 'x2apic':
    case 'tsc-deadline':
    case 'ioapic':
    case 'ipiv':
    case 'pic':
      return { key: k.text, value: bool(), pos };
    case 'ioapic-version': {
      if (v.kind !== 'num' || (v.value !== 0x11n && v.value !== 0x20n)) p.fail(v.pos, `expected \`0x11\` (82093AA) or \`0x20\` (with the EOI register) for \`ioapic-version\`, found ${describe(v)}`);
      return { key: 'ioapic-version', value: v.value === 0x11n ? 0x11 : 0x20, pos };
    }
    case 'apic-ids': {
      // A list: `apic-ids = 0, 2, 0x100` (one initial APIC ID per CPU, in CPU order).
      const ids = [p.small(numTok(p, v, k), 0xfffffffe, 'an APIC ID')];
      while (p.accept(',')) ids.push(p.small(numTok(p, p.next(), k), 0xfffffffe, 'an APIC ID'));
      return { key: 'apic-ids', value: ids, pos };
    }
    case 'timer-ratio':
      return { key: 'timer-ratio', value: num(1, 0xffffffff), pos };
    case 'accel': {
      const accel = ACCELS.find((a) => a === v.text);
      if (accel === undefined) p.fail(v.pos, `expected one of ${ACCELS.map((a) => `\`${a}\``).join(', ')} for \`accel\`, found ${describe(v)}`);
      return { key: 'accel', value: accel, pos };
    }
  }
  p.error(k.pos, `unknown config key \`${k.text}\`${didYouMean(k.text, CONFIG_KEYS) || `: expected ${oneOf(CONFIG_KEYS)}`}`);
  return null;
}

function numTok(p: Cursor, v: Token, k: Token): Token {
  if (v.kind !== 'num') p.fail(v.pos, `expected a number in \`${k.text}\`, found ${describe(v)}`);
  return v;
}

export function parseInit(p: Cursor): InitBlock {
  const pos = p.next().pos;
  const list: InitItem[] = [];
  items(p, 'init', () => list.push(initItem(p)));
  return { items: list, pos };
}

function initItem(p: Cursor): InitItem {
  const t = p.expectName('a memory word, `Pn.FIELD` or `ioapic.N` to initialise');
  const pos = t.pos;
  const io = /^ioapic\.([0-9]+)$/.exec(t.text);
  if (io) {
    const pin = Number(io[1]);
    if (pin >= IOAPIC_PINS) p.error(within(t, 7), `the I/O APIC has pins 0..${IOAPIC_PINS - 1}, found ${io[1]}`);
    p.expect('=', `after \`${t.text}\``);
    return { kind: 'ioapic-entry', pin, entry: redirection(p), pos };
  }
  const proc = /^P(0|[1-9][0-9]*)(?:\.(.*))?$/.exec(t.text);
  if (!proc) {
    const why = reservedWord(t.text);
    if (why !== null) p.fail(pos, `cannot initialise \`${t.text}\`: ${why}; expected a memory word, \`Pn.FIELD\` or \`ioapic.N\``);
    p.expect('=', `after \`${t.text}\``);
    return { kind: 'mem', name: t.text, value: number(p), pos };
  }
  const cpu = Number(proc[1]);
  let field = proc[2];
  let fpos = within(t, proc[1].length + 2);
  if (field === undefined) {
    p.expect(':', `or \`.FIELD\` after \`${t.text}\``);
    const r = p.expectName('a register after `:`');
    field = r.text;
    fpos = r.pos;
    if (!/^r[0-9]+$/.test(field)) p.fail(r.pos, `expected a register after \`${t.text}:\`, found \`${field}\``);
  }
  p.expect('=', `after \`${p.slice(t, t)}\``);
  switch (field) {
    case 'activity':
      return { kind: 'activity', cpu, value: word(p, ACTIVITY_NAMES, 'Pn.activity'), pos };
    case 'apic.mode':
      return { kind: 'apic-mode', cpu, value: word(p, APIC_MODE_NAMES, 'Pn.apic.mode'), pos };
    case 'vmx':
      return { kind: 'vmx', cpu, value: word(p, VMX_MODE_NAMES, 'Pn.vmx'), pos };
    case 'smbase':
      return { kind: 'smbase', cpu, value: number(p), pos };
    case 'if': {
      const v = p.expectNum('`0` or `1` for `Pn.if`');
      return { kind: 'if', cpu, value: p.small(v, 1, '`Pn.if`') === 1 ? 1 : 0, pos };
    }
  }
  if (field.startsWith('apic.')) {
    const reg = apicRegName(p, field.slice(5), { line: fpos.line, col: fpos.col + 5 });
    return { kind: 'apic-reg', cpu, reg, value: number(p), pos };
  }
  if (/^r[0-9]+$/.test(field)) {
    if (!isGpr(field)) p.error(fpos, `no register \`${field}\`: registers are r0..r${REG_COUNT - 1}`);
    return { kind: 'reg', cpu, reg: field, value: number(p), pos };
  }
  const fields = ['activity', 'apic.mode', 'apic.REG', 'smbase', 'if', 'vmx', 'rK'];
  return p.fail(fpos, `unknown CPU field \`${field}\`${didYouMean(field, fields) || ''}: expected one of ${fields.join(', ')}`);
}

function number(p: Cursor): bigint {
  return p.expectNum('a number').value;
}

function word<T extends string>(p: Cursor, names: readonly T[], what: string): T {
  const v = p.expectName(`one of ${oneOf(names)} for \`${what}\``);
  const w = names.find((n) => n === v.text);
  if (w === undefined) p.fail(v.pos, `expected ${oneOf(names)} for \`${what}\`, found ${describe(v)}`);
  return w;
}

const REDIR_FIELDS = ['vector', 'mode', 'dest', 'trigger', 'polarity', 'mask'] as const;

/** `{ vector = V, mode = M, dest = D, trigger = T, polarity = P, mask = 0|1 }`, fields in any order. */
function redirection(p: Cursor): RedirectionEntry {
  const e: RedirectionEntry = { vector: null, mode: null, dest: null, trigger: null, polarity: null, mask: null };
  const open = p.expect('{', 'to start a redirection entry (`{ vector = V, dest = Pk, ... }`)');
  const saved = p.skipNl;
  p.skipNl = true;
  try {
    while (!p.accept('}')) {
      const k = p.expectName(`a redirection entry field (${oneOf(REDIR_FIELDS)}) or \`}\``);
      const key = REDIR_FIELDS.find((f) => f === k.text);
      if (key === undefined) p.fail(k.pos, `unknown redirection entry field \`${k.text}\`${didYouMean(k.text, REDIR_FIELDS)}; expected ${oneOf(REDIR_FIELDS)}`);
      if (e[key] !== null) p.error(k.pos, `\`${key}\` is given twice`);
      p.expect('=', `after \`${key}\``);
      redirField(p, e, key);
      if (!p.at('}')) p.expect(',', `between redirection entry fields (opened at line ${open.pos.line})`);
    }
  } finally {
    p.skipNl = saved;
  }
  return e;
}

function redirField(p: Cursor, e: RedirectionEntry, key: (typeof REDIR_FIELDS)[number]): void {
  switch (key) {
    case 'vector':
      e.vector = vectorNum(p, p.expectNum('a vector'));
      return;
    case 'mode':
      e.mode = word(p, PLATFORM_MODE_NAMES, 'mode');
      return;
    case 'dest':
      e.dest = parseDest(p, false);
      return;
    case 'trigger':
      e.trigger = word(p, ['edge', 'level'] as const, 'trigger');
      return;
    case 'polarity':
      e.polarity = word(p, ['high', 'low'] as const, 'polarity');
      return;
    case 'mask': {
      const v = p.expectNum('`0` or `1` for `mask`');
      e.mask = p.small(v, 1, '`mask`') === 1 ? 1 : 0;
      return;
    }
  }
}
