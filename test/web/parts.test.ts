// The web build's op-table step (web/op-parts.ts): what it drops, what it refuses, and that the page's parser with
// its op table cut down (PAGE_DROPS) says what the source's says, on the catalog, the fixtures and mutated tests.
// The worker's cut-down table runs the catalog in test/web/browser.test.ts, on the built worker itself.
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OP_MODULE, PAGE_DROPS, WORKER_DROPS, dropOpParts } from '../../web/op-parts.js';
import { parse } from '../../web/src/front.js';
import { CATALOG, mutatedCatalog } from '../litmus/inputs.js';

const SMM = 'src/litmus/ops/smm.ts';

describe('the op table\'s parts in a web bundle', () => {
  it('drops the parts asked for from every def, made in place or by a function, and keeps the rest', () => {
    const src = readFileSync(SMM, 'utf8');
    const out = dropOpParts(src, SMM, WORKER_DROPS);
    for (const gone of ['emit(', 'emit:', 'analyze(', ' print:', 'jmp lit_smm_exit', 'expected `read` or `write`']) expect(out).not.toContain(gone);
    for (const kept of ['exec(op, x)', 'footprint:', 'describe:', 'validate:', 'refs:']) expect(out).toContain(kept);
    expect(out).toMatch(/parse: \{\},/);
    const plat = dropOpParts(readFileSync('src/litmus/ops/platform.ts', 'utf8'), 'platform.ts', PAGE_DROPS);
    // plugDef('hotplug') and plugDef('unplug') share one literal: its parts go once, its validation stays.
    expect(plat).not.toMatch(/emit: \(_op: CpuOp/);
    expect(plat).not.toContain('x.hotplug(op.cpu)');
    expect(plat).toMatch(/function plugDef[^]*validate/);
  });

  it('refuses a def it cannot see into, rather than keeping its parts unsaid', () => {
    const odd = "export const f = { parse: {}, defs: { rsm: OTHER } };\n";
    expect(() => dropOpParts(odd, 'odd.ts', WORKER_DROPS)).toThrow(/op def rsm is neither an object literal/);
  });

  it('the page\'s parser, with the op table it is built with, answers as the source on the catalog, fixtures and mutations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lapis-parts-'));
    try {
      const r = await build({
        entryPoints: ['web/src/front.ts'], bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent',
        plugins: [{
          name: 'op-parts',
          setup: (b) => b.onLoad({ filter: new RegExp(OP_MODULE.source) }, (a) => ({ contents: dropOpParts(readFileSync(a.path, 'utf8'), a.path, PAGE_DROPS), loader: 'ts' })),
        }],
      });
      writeFileSync(join(dir, 'front.mjs'), r.outputFiles[0].contents);
      const cut = (await import(pathToFileURL(join(dir, 'front.mjs')).href)) as typeof import('../../web/src/front.js');
      const fixtures = readdirSync('test/litmus/fixtures').map((f) => readFileSync(`test/litmus/fixtures/${f}`, 'utf8'));
      const inputs = [...CATALOG, ...fixtures, ...fc.sample(mutatedCatalog, { numRuns: 400, seed: 15 })];
      let bad = 0;
      for (const text of inputs) {
        const want = parse(text);
        if (!want.ok) bad++;
        expect(cut.parse(text)).toEqual(want);
      }
      // The mutations reach the validator's and the parser's messages, not only the happy path.
      expect(bad).toBeGreaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
