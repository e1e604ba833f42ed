// Files shipped with the package, found from this module (dist/cli or src/cli: both two levels below the root).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file or directory of the package (`litmus/`, `schemas/expected.schema.json`). */
export function packageFile(path: string): string {
  return fileURLToPath(new URL(`../../${path}`, import.meta.url));
}

/** The litmus catalog shipped with the package. */
export function catalogDir(): string {
  return packageFile('litmus/');
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}

/** A JSON file of the package (a schema). */
export function packageJson<T>(path: string): T {
  return JSON.parse(readFileSync(packageFile(path), 'utf8')) as T;
}
