// parseLitmus: text -> LitmusTest or diagnostics. A hand-written lexer and recursive-descent parser
// (lexer.ts, parse-*.ts), then validate.ts. No I/O here: check.ts reads files.

import type { Block, ConfigBlock, FinalCondition, InitBlock, LitmusTest, Observable, Pos, Settings } from './ast.js';
import { Cursor } from './cursor.js';
import { Diagnostic, Reporter } from './diagnostic.js';
import { describe, lex } from './lexer.js';
import { parseFinal, parseObservable } from './parse-cond.js';
import { parseConfig, parseInit } from './parse-init.js';
import { vectorNum } from './syntax.js';
import { parseBody } from './ops/index.js';
import { procIndex } from './names.js';
import { cpuRefs, validate } from './validate.js';

export type ParseResult = { ok: true; test: LitmusTest } | { ok: false; errors: Diagnostic[] };

export function parseLitmus(text: string, file = '<input>'): ParseResult {
  const rep = new Reporter(file, text);
  const { toks, unexpected } = lex(text, rep);
  // Characters that are not litmus text: one error says so; parsing what is around them would only add noise.
  if (unexpected > 0) return { ok: false, errors: rep.diagnostics.slice(-1) };
  const p = new Cursor(toks, rep, text);
  const test = parseTest(p);
  // Name and range errors leave the tree whole, so validation still runs; a syntax error may not.
  if (test !== null && p.syntaxErrors === 0) validate(test, rep);
  if (test === null || rep.diagnostics.length > 0) return { ok: false, errors: rep.sorted() };
  return { ok: true, test };
}

function parseTest(p: Cursor): LitmusTest | null {
  p.skipSeparators();
  const head = p.peek();
  if (!p.at('lapis')) {
    p.error(head.pos, `expected \`lapis NAME\` to start the test, found ${describe(head)}`);
    return null;
  }
  p.next();
  const name = testName(p, head.pos);
  p.skipSeparators();
  let description: string | null = null;
  if (p.peek().kind === 'str') {
    description = p.next().text;
    if (!p.atEnd()) p.error(p.peek().pos, `expected end of line after the description, found ${describe(p.peek())}`);
  }

  let config: ConfigBlock | null = null;
  let init: InitBlock | null = null;
  const blocks: Block[] = [];
  const observe: Observable[] = [];
  const finals: FinalCondition[] = [];
  for (;;) {
    p.skipSeparators();
    const t = p.peek();
    if (t.kind === 'eof') break;
    try {
      if (p.at('config')) {
        const c = parseConfig(p);
        if (config) p.error(t.pos, `duplicate \`config\` block: the first is at line ${config.pos.line}`);
        else config = c;
      } else if (p.at('init')) {
        const i = parseInit(p);
        if (init) p.error(t.pos, `duplicate \`init\` block: the first is at line ${init.pos.line}`);
        else init = i;
      } else if (p.at('observe')) {
        p.next();
        for (;;) {
          observe.push(parseObservable(p));
          if (!p.accept(',')) break;
          skipNls(p);
        }
        p.endOfItem('the `observe` list');
      } else if (p.at('exists') || p.at('forall') || (p.at('~') && p.at('exists', 1))) {
        const f = parseFinal(p);
        if (finals.length > 0) p.error(f.pos, `a test has exactly one final condition: the first is at line ${finals[0].pos.line}`);
        finals.push(f);
        p.endOfItem('the final condition');
      } else if (t.kind === 'name' && (procIndex(t.text, 'P') !== null || procIndex(t.text, 'D') !== null)) {
        blocks.push(parseBlock(p));
      } else {
        p.fail(t.pos, `expected a block (\`config\`, \`init\`, \`Pn\`, \`Pn on ...\`, \`Dn\`, \`observe\`) or a final condition (\`exists\`, \`~exists\`, \`forall\`), found ${describe(t)}`);
      }
    } catch (e) {
      p.report(e);
      syncTopLevel(p);
    }
  }
  if (finals.length === 0) {
    // After a syntax error the condition may be what failed to parse: say nothing more.
    if (p.syntaxErrors > 0) return null;
    p.error(p.peek().pos, 'missing final condition: expected `exists (C)`, `~exists (C)` or `forall (C)` at the end of the test');
    return null;
  }
  const test: LitmusTest = { name, description, config, settings: DEFAULTS, init, blocks, observe, condition: finals[0], pos: head.pos };
  // A tree too deep for the recursive walks after this point (settings, validation, simulation) goes no further.
  if (!shallowEnough(test, p.rep)) return null;
  test.settings = resolveSettings(test);
  return test;
}

/** How deep an expression or condition may be, each operator of a chain counting one level (docs/litmus.md). */
export const MAX_DEPTH = 1000;
const OPERATOR_NODES = new Set(['bin', 'and', 'or', 'not']);

/**
 * Whether every expression and condition is at most MAX_DEPTH operators deep (an error at the first that is not).
 * The parser bounds its own recursion (Cursor.nested), but `a /\ b /\ c ...` is parsed by a loop into a tree as
 * deep as the chain is long. A walk over the whole tree with an explicit stack, so that it cannot overflow.
 */
function shallowEnough(test: LitmusTest, rep: Reporter): boolean {
  const nodes: object[] = [test], depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop()!, depth = depths.pop()!;
    if (Array.isArray(node)) {
      for (const x of node) {
        if (typeof x !== 'object' || x === null) continue;
        nodes.push(x);
        depths.push(depth);
      }
      continue;
    }
    const kind = (node as { kind?: unknown }).kind;
    const d = typeof kind === 'string' && OPERATOR_NODES.has(kind) ? depth + 1 : 0;
    if (d > MAX_DEPTH) {
      rep.error((node as { pos: Pos }).pos, `this expression or condition is more than ${MAX_DEPTH} operators deep (the limit; each operator of a chain is a level: group a long chain with parentheses, \`(a /\\ b) /\\ (c /\\ d)\`)`);
      return false;
    }
    for (const key in node) {
      const v = (node as Record<string, unknown>)[key];
      if (key === 'pos' || typeof v !== 'object' || v === null) continue;
      nodes.push(v);
      depths.push(d);
    }
  }
  return true;
}

function skipNls(p: Cursor): void {
  while (p.peek().kind === 'nl') p.next();
}

/** The test name: the rest of the `lapis` line, one word (it may contain `+`, as herd names do). */
function testName(p: Cursor, pos: Pos): string {
  const first = p.peek();
  if (p.atEnd()) {
    p.error(first.pos, `expected a test name after \`lapis\`, found ${describe(first)}`);
    return '';
  }
  let last = p.next();
  while (!(p.peek().kind === 'nl' || p.peek().kind === 'eof')) last = p.next();
  const name = p.slice(first, last);
  if (/\s/.test(name)) p.error(pos, `the test name must be one word, found \`${name}\``);
  return name;
}

function parseBlock(p: Cursor): Block {
  const t = p.next();
  const agent = procIndex(t.text, 'D');
  if (agent !== null) return { kind: 'agent', agent, body: parseBody(p, `block \`${t.text}\``), pos: t.pos };
  const cpu = procIndex(t.text, 'P') ?? 0;
  if (!p.accept('on')) return { kind: 'cpu', cpu, handler: 'main', vector: null, body: parseBody(p, `block \`${t.text}\``), pos: t.pos };
  const h = p.expectName('`vector V`, `nmi`, `smi`, `sipi` or `vmexit init|sipi|intr-window|nmi-window` after `on`');
  if (h.text === 'vmexit') {
    const exits = ['init', 'sipi', 'intr-window', 'nmi-window'] as const;
    const e = p.expectName('`init`, `sipi`, `intr-window` or `nmi-window` after `on vmexit`');
    const x = exits.find((k) => k === e.text);
    if (x === undefined) p.fail(e.pos, `expected \`init\`, \`sipi\`, \`intr-window\` or \`nmi-window\` after \`on vmexit\`, found ${describe(e)}`);
    const handler = `vmexit-${x}` as const;
    return { kind: 'cpu', cpu, handler, vector: null, body: parseBody(p, `block \`${t.text} on vmexit ${e.text}\``), pos: t.pos };
  }
  if (h.text === 'vector') {
    const vector = vectorNum(p, p.expectNum('a vector after `on vector`'));
    return { kind: 'cpu', cpu, handler: 'vector', vector, body: parseBody(p, `block \`${t.text} on vector\``), pos: t.pos };
  }
  if (h.text !== 'nmi' && h.text !== 'smi' && h.text !== 'sipi') {
    p.fail(h.pos, `expected \`vector V\`, \`nmi\`, \`smi\` or \`sipi\` after \`on\`, found ${describe(h)}`);
  }
  return { kind: 'cpu', cpu, handler: h.text, vector: null, body: parseBody(p, `block \`${t.text} on ${h.text}\``), pos: t.pos };
}

/** Recovery at the top level: skip to the next line that starts outside any braces. */
function syncTopLevel(p: Cursor): void {
  p.skipNl = false;
  let depth = 0;
  for (;;) {
    const t = p.next();
    if (t.kind === 'eof') return;
    if (t.text === '{' && t.kind === 'punct') depth++;
    if (t.text === '}' && t.kind === 'punct') depth = Math.max(0, depth - 1);
    if (t.kind === 'nl' && depth === 0) return;
  }
}

const DEFAULTS: Settings = {
  cpus: 1, vendor: 'intel', x2apic: true, tscDeadline: true, ioapic: true, timerRatio: 1, accel: 'none', ipiv: false, ioapicVersion: 0x20, apicIds: null, pic: false,
};

/**
 * Every key resolved. Without `cpus`, the test has as many CPUs as the highest Pn it names, plus one.
 * `tsc-deadline` defaults to true on intel (CPUID.01H:ECX[24], SDM Vol 3A 11.5.4.1) and false on amd.
 */
function resolveSettings(test: LitmusTest): Settings {
  const s: Settings = { ...DEFAULTS, cpus: cpuRefs(test).reduce((n, r) => Math.max(n, r.cpu + 1), 1) };
  let tsc: boolean | null = null;
  for (const e of test.config?.entries ?? []) {
    if (e.key === 'cpus') s.cpus = e.value;
    else if (e.key === 'vendor') s.vendor = e.value;
    else if (e.key === 'x2apic') s.x2apic = e.value;
    else if (e.key === 'tsc-deadline') tsc = e.value;
    else if (e.key === 'ioapic') s.ioapic = e.value;
    else if (e.key === 'timer-ratio') s.timerRatio = e.value;
    else if (e.key === 'accel') s.accel = e.value;
    else if (e.key === 'ipiv') s.ipiv = e.value;
    else if (e.key === 'ioapic-version') s.ioapicVersion = e.value;
    else if (e.key === 'apic-ids') s.apicIds = e.value;
    else if (e.key === 'pic') s.pic = e.value;
  }
  s.tscDeadline = tsc ?? s.vendor === 'intel';
  return s;
}
