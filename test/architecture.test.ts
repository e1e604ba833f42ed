// The house rules the code must keep as it grows (README "Layout"; ESLint checks the layers' import directions):
// no import cycles in src/, no file of code over 700 lines (the model, its tests, the guests, scripts, bench and web app).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(e)) out.push(p);
  }
  return out;
}

/** Relative imports of a TypeScript file (`import ... from './x.js'`, type-only ones included), as src paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g)) {
    out.push(normalize(join(dirname(file), m[1].replace(/\.js$/, '.ts'))));
  }
  return out;
}

describe('architecture', () => {
  it('src/ has no import cycles (type-only imports included)', () => {
    const all = files('src', /\.ts$/);
    const graph = new Map(all.map((f) => [normalize(f), imports(f)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) if (graph.has(g)) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('no file of code is over 700 lines', () => {
    const code = /\.(ts|mjs|js|asm|inc|sh)$/;
    const long = [...['src', 'test', 'guest', 'scripts', 'bench', 'web'].flatMap((d) => files(d, code)), '.ci/run']
      .map((f) => ({ f, n: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.n > 700)
      .map((x) => `${x.f}: ${x.n} lines`);
    expect(long).toEqual([]);
  });
});
