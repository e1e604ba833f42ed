// The litmus editor: CodeMirror 6 with the format's tokens highlighted and parse errors shown inline as the user
// types (the parser runs in a worker; a diagnostic's line:col becomes a range up to the end of its token).

import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { HighlightStyle, StreamLanguage, bracketMatching, syntaxHighlighting, type StringStream } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { tags } from '@lezer/highlight';
import type { ParseProblem } from './types.js';

const KEYWORDS = new Set(['lapis', 'config', 'init', 'observe', 'exists', 'forall', 'on', 'vector']);
const OPS = new Set([
  'send', 'store', 'load', 'await', 'apic', 'write', 'read', 'wrmsr', 'rdmsr', 'sti', 'cli', 'hlt', 'pause', 'nop', 'eoi',
  'rsm', 'vmxon', 'vmxoff', 'vmentry', 'smbase', 'wait', 'goto', 'if', 'repeat', 'ioapic', 'irq', 'msi', 'hotplug',
  'unplug', 'preempt', 'resume', 'post', 'assert', 'deassert', 'pulse',
]);
const ATOMS = new Set(['smi', 'nmi', 'sipi', 'fixed', 'lowest', 'extint', 'self', 'all', 'others', 'phys', 'logical', 'edge', 'level',
  'active', 'halted', 'shutdown', 'wait-for-sipi', 'unplugged', 'xapic', 'x2apic', 'disabled', 'intel', 'amd', 'true', 'false',
  'avic', 'apicv', 'tpr-shadow', 'none', 'root', 'non-root', 'off']);

interface LexState {
  /** No token yet: a `lapis` here starts the header line. */
  start: boolean;
  /** Just after the header's `lapis`: the rest of the line up to a comment is the test name. */
  name: boolean;
}

const litmus = StreamLanguage.define<LexState>({
  name: 'litmus',
  startState: () => ({ start: true, name: false }),
  token(stream: StringStream, state: LexState): string | null {
    if (stream.eatSpace()) return null;
    if (stream.peek() === '#') {
      stream.skipToEnd();
      return 'comment';
    }
    if (state.name && !stream.sol()) {
      state.name = false;
      stream.match(/^[^#\n]*/);
      return 'heading';
    }
    state.name = false;
    if (state.start) {
      state.start = false;
      if (stream.match(/^lapis\b/)) {
        state.name = true;
        return 'keyword';
      }
    }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return 'string';
    if (stream.match(/^(0[xX][0-9A-Fa-f]+|[0-9]+)/)) return 'number';
    if (stream.match(/^~exists\b/)) return 'keyword';
    if (stream.match(/^(->|\/\\|\\\/|==|!=|<=|>=|<<|>>|[=<>+\-&|^~:;,])/)) return 'operator';
    if (stream.match(/^[{}()]/)) return 'bracket';
    const m = stream.match(/^[A-Za-z_][A-Za-z0-9_.-]*/) as RegExpMatchArray | null;
    if (m) {
      let w = m[0];
      // `smi->P1`: a name stops before `->` (as the lexer does).
      const arrow = w.indexOf('->');
      if (arrow > 0) {
        stream.backUp(w.length - arrow);
        w = w.slice(0, arrow);
      }
      if (/^[PD][0-9]+$/.test(w)) return 'typeName';
      if (/^P[0-9]+[.:]/.test(w)) return 'propertyName';
      if (/^r[0-9]+$|^sv$/.test(w)) return 'variableName';
      if (KEYWORDS.has(w)) return 'keyword';
      if (OPS.has(w)) return 'macroName';
      if (ATOMS.has(w)) return 'atom';
      return 'name';
    }
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '#' } },
});

const style = HighlightStyle.define([
  { tag: tags.comment, color: '#6a737d', fontStyle: 'italic' },
  { tag: tags.keyword, color: '#8f2c9c', fontWeight: '600' },
  { tag: tags.heading, color: '#24292e', fontWeight: '600' },
  { tag: tags.string, color: '#22863a' },
  { tag: tags.number, color: '#b35900' },
  { tag: tags.typeName, color: '#005cc5', fontWeight: '600' },
  { tag: tags.propertyName, color: '#005cc5' },
  { tag: tags.variableName, color: '#6f42c1' },
  { tag: tags.macroName, color: '#d73a49' },
  { tag: tags.atom, color: '#0b7285' },
  { tag: tags.operator, color: '#586069' },
]);

export interface LitmusEditor {
  view: EditorView;
  text(): string;
  setText(text: string): void;
}

/** The diagnostic's range: from line:col to the end of the word there (at least one character). */
export function problemRange(doc: EditorState['doc'], p: ParseProblem): { from: number; to: number } {
  const line = doc.line(Math.min(Math.max(p.line, 1), doc.lines));
  const from = Math.min(line.from + Math.max(p.col - 1, 0), line.to);
  const rest = doc.sliceString(from, line.to);
  const word = /^\S+/.exec(rest)?.[0].length ?? 0;
  return { from, to: Math.min(line.to, from + Math.max(word, 1)) };
}

export function createEditor(parent: HTMLElement, text: string, check: (text: string) => Promise<ParseProblem[]>,
  onChange: (text: string) => void, onProblems: (p: ParseProblem[]) => void): LitmusEditor {
  const lint = linter(async (view): Promise<Diagnostic[]> => {
    const problems = await check(view.state.doc.toString());
    onProblems(problems);
    return problems.map((p) => ({ ...problemRange(view.state.doc, p), severity: 'error' as const, message: `${p.line}:${p.col}: ${p.message}` }));
  }, { delay: 200 });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(), history(), bracketMatching(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]), litmus, syntaxHighlighting(style), lint, lintGutter(),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange(u.state.doc.toString());
        }),
        EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { fontFamily: 'var(--mono)', fontSize: '13px' } }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (t: string) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
  };
}
