// A directory's expected.json: per litmus file, per profile, the answer `lapis suite` (and `npm test`) expects.
// Validated against schemas/expected.schema.json: a malformed file is a usage error naming the value, not a
// mismatch row per test.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Answer } from '../explore/answer.js';
import { formatSchemaErrors, validate, type Schema } from './schema.js';
import { packageJson } from './package.js';
import { UsageError } from './errors.js';

export type Expected = 'Ok' | 'No' | 'Unsupported' | 'Incomplete';
/** Per file, per profile. */
export type Expectations = Record<string, Record<string, Expected>>;

export const EXPECTED_SCHEMA = 'schemas/expected.schema.json';

/** The errors of an expected.json document (empty: valid). */
export function expectationErrors(file: string, doc: unknown): string[] {
  return formatSchemaErrors(file, validate(doc, packageJson<Schema>(EXPECTED_SCHEMA)));
}

/** DIR/expected.json, validated; {} when there is none. Throws UsageError when it is not valid. */
export function loadExpectations(dir: string): Expectations {
  const file = join(dir, 'expected.json');
  if (!existsSync(file)) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  const errors = expectationErrors(file, doc);
  if (errors.length > 0) throw new UsageError(errors.slice(0, 10).join('\n') + (errors.length > 10 ? `\n(${errors.length - 10} more)` : ''));
  return doc as Expectations;
}

/** Whether an answer is the expected one. Incomplete: the search was cut short, whatever it found by then. */
export function meets(expected: Expected, a: Answer): boolean {
  if (expected === 'Incomplete') return !a.complete && a.result !== 'Unsupported';
  return a.result === expected;
}
