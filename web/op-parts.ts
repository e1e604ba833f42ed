// A build step for the web app's bundles: drop the parts of the litmus op table (src/litmus/ops/types.ts OpDef,
// OpFamily) that a bundle never calls. The table keeps all of an op's behaviour in one object per op, and a
// bundler keeps every property of an object it keeps. Neither bundle prints ops or compiles them into a guest
// (print; analyze and emit: NASM text and refusal prose). The worker runs ops but never parses them (the page does:
// web/src/front.ts); the page parses and validates them (parse, where, whereHint, word, validate, refs) but never
// runs them. A dropped part called anyway is `undefined`: a TypeError, never a different answer
// (test/web/browser.test.ts runs the catalog through the built worker, test/web/parts.test.ts parses through the
// page's op table).

import ts from 'typescript';
import type { Plugin } from 'vite';
import type { OpDef } from '../src/litmus/ops/types.js';

/** The OpDef parts and the OpFamily `parse` table a bundle may drop. */
export type OpPart = 'parse' | keyof OpDef<'rsm'>;

const NEITHER: OpPart[] = ['print', 'analyze', 'emit'];
export const WORKER_DROPS: readonly OpPart[] = [...NEITHER, 'parse'];
export const PAGE_DROPS: readonly OpPart[] = [...NEITHER, 'describe', 'exec', 'enabled', 'waitsFor', 'pauses', 'footprint'];

/** An op family module (src/litmus/ops/NAME.ts). */
export const OP_MODULE = /[\\/]src[\\/]litmus[\\/]ops[\\/][\w-]+\.ts$/;

function propName(p: ts.ObjectLiteralElementLike): string | null {
  return p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : null;
}

/** The family objects of a module: `{ parse: {...}, defs: { kind: {...}, ... } }` literals. */
function families(sf: ts.SourceFile): ts.ObjectLiteralExpression[] {
  const out: ts.ObjectLiteralExpression[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isObjectLiteralExpression(n)) {
      const names = n.properties.map(propName);
      if (names.includes('defs') && names.includes('parse')) out.push(n);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The object literals an op def is: written in place, or returned by a function of the module (`plugDef('hotplug')`). */
function defLiterals(sf: ts.SourceFile, def: ts.ObjectLiteralElementLike, file: string): ts.ObjectLiteralExpression[] {
  const init = ts.isPropertyAssignment(def) ? def.initializer : null;
  if (init && ts.isObjectLiteralExpression(init)) return [init];
  if (init && ts.isCallExpression(init) && ts.isIdentifier(init.expression)) {
    const name = init.expression.text;
    const fn = sf.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === name);
    const returned: ts.ObjectLiteralExpression[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isReturnStatement(n) && n.expression && ts.isObjectLiteralExpression(n.expression)) returned.push(n.expression);
      else if (!ts.isFunctionLike(n) || n === fn) ts.forEachChild(n, visit);
    };
    if (fn) visit(fn);
    if (returned.length > 0) return returned;
  }
  throw new Error(`${file}: op def ${propName(def) ?? '?'} is neither an object literal nor a call of a function of its module returning one: the build cannot drop its parts (web/op-parts.ts)`);
}

/** The module's text without `drop`. */
export function dropOpParts(code: string, file: string, drop: readonly OpPart[]): string {
  const sf = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true);
  // Keyed by start: two defs made by one function (`plugDef('hotplug')`, `plugDef('unplug')`) drop its parts once.
  const edits = new Map<number, [number, string]>();
  const remove = (p: ts.Node): void => {
    edits.set(p.getFullStart(), [code[p.getEnd()] === ',' ? p.getEnd() + 1 : p.getEnd(), '']);
  };
  for (const fam of families(sf)) {
    for (const p of fam.properties) {
      const name = propName(p);
      if (name === 'parse' && drop.includes('parse') && ts.isPropertyAssignment(p)) {
        // An empty table, not none: ops/index.ts builds its keyword map from every family's.
        edits.set(p.initializer.getStart(), [p.initializer.getEnd(), '{}']);
      }
      if (name !== 'defs' || !ts.isPropertyAssignment(p) || !ts.isObjectLiteralExpression(p.initializer)) continue;
      for (const def of p.initializer.properties) {
        for (const lit of defLiterals(sf, def, file)) {
          for (const part of lit.properties) {
            if (drop.includes(propName(part) as OpPart)) remove(part);
          }
        }
      }
    }
  }
  let out = code;
  for (const [a, [b, text]] of [...edits].sort((x, y) => y[0] - x[0])) out = out.slice(0, a) + text + out.slice(b);
  return out;
}

/** A Vite plugin dropping `drop` from every op family module (before TypeScript is stripped), in builds only: the
 *  development server serves the page and the worker through one pipeline, so it drops nothing. */
export function opParts(drop: readonly OpPart[]): Plugin {
  return {
    name: 'lapis-op-parts',
    enforce: 'pre',
    apply: 'build',
    transform(code, id) {
      return OP_MODULE.test(id) ? { code: dropOpParts(code, id, drop), map: null } : null;
    },
  };
}
