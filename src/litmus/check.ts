// Reading litmus files from disk (the only I/O of the litmus front end): loadLitmus parses one, checkFiles many.

import { readFileSync } from 'node:fs';
import { Diagnostic } from './diagnostic.js';
import { parseLitmus, type ParseResult } from './parse.js';

export interface FileCheck {
  file: string;
  ok: boolean;
  diagnostics: Diagnostic[];
}

/** Read and parse one litmus file; a file that cannot be read is a diagnostic like any other. */
export function loadLitmus(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, errors: [new Diagnostic(file, 1, 1, `cannot read the file: ${why}`, '')] };
  }
  return parseLitmus(text, file);
}

export function checkFiles(paths: string[]): FileCheck[] {
  return paths.map((file) => {
    const r = loadLitmus(file);
    return r.ok ? { file, ok: true, diagnostics: [] } : { file, ok: false, diagnostics: r.errors };
  });
}
