// checkFiles: parse and validate litmus files from disk (the only I/O of the litmus front end).

import { readFileSync } from 'node:fs';
import { Diagnostic } from './diagnostic.js';
import { parseLitmus } from './parse.js';

export interface FileCheck {
  file: string;
  ok: boolean;
  diagnostics: Diagnostic[];
}

export function checkFiles(paths: string[]): FileCheck[] {
  return paths.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { file, ok: false, diagnostics: [new Diagnostic(file, 1, 1, `cannot read the file: ${why}`, '')] };
    }
    const r = parseLitmus(text, file);
    return r.ok ? { file, ok: true, diagnostics: [] } : { file, ok: false, diagnostics: r.errors };
  });
}
