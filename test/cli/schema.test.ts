// The JSON Schema validator of the project's data files, and litmus/expected.json against its schema.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validate, type Schema } from '../../src/cli/schema.js';
import { expectationErrors } from '../../src/cli/expected.js';

const SCHEMA = JSON.parse(readFileSync('schemas/expected.schema.json', 'utf8')) as Schema;

describe('schema validator', () => {
  it('checks type, enum, required, additionalProperties, pattern, ranges and items, with JSON Pointer paths', () => {
    const s: Schema = {
      type: 'object', required: ['a'], additionalProperties: false,
      properties: { a: { type: 'integer', minimum: 1, maximum: 3 }, b: { type: 'array', items: { enum: ['x', 'y'] }, minItems: 1 }, 'c/d': { type: 'string', pattern: '^k' } },
    };
    expect(validate({ a: 2, b: ['x'], 'c/d': 'kk' }, s)).toEqual([]);
    expect(validate({ a: 2.5 }, s)).toEqual([{ path: '/a', message: 'must be integer, not number' }]);
    expect(validate({ b: [] }, s).map((e) => e.message)).toEqual(['is missing the required property "a"', 'must have at least 1 item(s)']);
    expect(validate({ a: 4, b: ['z'], 'c/d': 'q', e: 1 }, s)).toEqual([
      { path: '/a', message: 'must be at most 3' },
      { path: '/b/0', message: 'must be one of "x", "y", not "z"' },
      { path: '/c~1d', message: '"q" does not match ^k' },
      { path: '/e', message: 'is not an allowed property (allowed: a, b, c/d)' },
    ]);
    expect(validate([], s)).toEqual([{ path: '', message: 'must be object, not array' }]);
  });

  it('resolves $ref to $defs, and oneOf needs exactly one match', () => {
    const s: Schema = { $defs: { n: { type: 'number' } }, oneOf: [{ $ref: '#/$defs/n' }, { type: 'string' }] };
    expect(validate(1, s)).toEqual([]);
    expect(validate('x', s)).toEqual([]);
    expect(validate(true, s)).toHaveLength(1);
  });

  it('refuses a keyword it does not implement rather than ignore it', () => {
    expect(() => validate(1, { multipleOf: 2 })).toThrow(/multipleOf/);
    expect(() => validate(1, { $ref: '#/$defs/none' })).toThrow(/does not resolve/);
  });
});

describe('expected.json', () => {
  it('litmus/expected.json follows schemas/expected.schema.json', () => {
    expect(expectationErrors('litmus/expected.json', JSON.parse(readFileSync('litmus/expected.json', 'utf8')))).toEqual([]);
    expect(SCHEMA.$schema).toMatch(/2020-12/);
  });

  it('rejects unknown answers, a spec that is Incomplete, a file that is not .litmus, an empty entry', () => {
    const errors = expectationErrors('e.json', { 'a.litmus': { spec: 'Yes' }, 'b.litmus': { spec: 'Incomplete', 'kvm-2019': 'Incomplete' }, 'c.txt': { spec: 'Ok' }, 'd.litmus': {} });
    expect(errors).toEqual([
      'e.json: /a.litmus/spec: must be one of "Ok", "No", "Unsupported", not "Yes"',
      'e.json: /b.litmus/spec: must be one of "Ok", "No", "Unsupported", not "Incomplete"',
      'e.json: /c.txt: property name "c.txt" does not match ^[^/\\\\]+\\.litmus$',
      'e.json: /d.litmus: must have at least 1 property',
    ]);
  });
});
