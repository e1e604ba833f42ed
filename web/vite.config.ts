// The web app (issue 15): `npm run web` serves it for development, `npm run web:build` builds it into dist-web/.
// One page script (the UI, CodeMirror, the catalog's texts) and one worker script (the model and the explorer):
// `lapis run --html` inlines both into a single page, so neither may split into further chunks. Each bundles the
// litmus op table without the parts it never calls (op-parts.ts; docs/web.md, "How it is built").
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { PAGE_DROPS, WORKER_DROPS, opParts } from './op-parts.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  build: {
    outDir: here('../dist-web'),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    // Conformance reports stay files (fetched when their view opens), never inlined into the page script.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1000,
  },
  plugins: [opParts(PAGE_DROPS)],
  worker: { format: 'es', plugins: () => [opParts(WORKER_DROPS)] },
  server: { host: '127.0.0.1', fs: { allow: [here('..')] } },
});
