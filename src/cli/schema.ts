// A small JSON Schema (draft 2020-12) validator for the project's own data files (schemas/*.schema.json): the
// keywords those schemas use, and an error for any other keyword so a schema is never half applied. Errors name
// the JSON Pointer of the offending value.

export type Schema = { [keyword: string]: unknown };

const IGNORED = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', '$defs']);
const KNOWN = new Set([
  'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames', 'patternProperties',
  'minProperties', 'items', 'minItems', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'oneOf', 'anyOf', '$ref',
]);

export interface SchemaError {
  /** JSON Pointer of the value (`` for the whole document). */
  path: string;
  message: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Every error of `value` against `schema` (empty: valid). `root` resolves `$ref: "#/$defs/NAME"`. */
export function validate(value: unknown, schema: Schema, root: Schema = schema, path = ''): SchemaError[] {
  const errors: SchemaError[] = [];
  const fail = (message: string, at = path) => errors.push({ path: at, message });
  for (const k of Object.keys(schema)) if (!KNOWN.has(k) && !IGNORED.has(k)) throw new Error(`schema keyword '${k}' is not supported`);
  if (typeof schema.$ref === 'string') {
    const m = /^#\/\$defs\/([^/]+)$/.exec(schema.$ref);
    const target = m ? (root.$defs as Record<string, Schema> | undefined)?.[m[1]] : undefined;
    if (!target) throw new Error(`schema reference '${schema.$ref}' does not resolve`);
    errors.push(...validate(value, target, root, path));
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      fail(`must be ${types.join(' or ')}, not ${t === 'integer' ? 'number' : t}`);
      return errors;
    }
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => e === value)) {
    fail(`must be one of ${(schema.enum as unknown[]).map(quote).join(', ')}, not ${quote(value)}`);
  }
  if ('const' in schema && schema.const !== value) fail(`must be ${quote(schema.const)}, not ${quote(value)}`);
  if (t === 'string') {
    const s = value as string;
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(s)) fail(`${quote(s)} does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && s.length < schema.minLength) fail(`must have at least ${schema.minLength} character(s)`);
    if (typeof schema.maxLength === 'number' && s.length > schema.maxLength) fail(`must have at most ${schema.maxLength} characters`);
  }
  if (t === 'integer' || t === 'number') {
    const n = value as number;
    if (typeof schema.minimum === 'number' && n < schema.minimum) fail(`must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && n > schema.maximum) fail(`must be at most ${schema.maximum}`);
  }
  if (t === 'array') {
    const a = value as unknown[];
    if (typeof schema.minItems === 'number' && a.length < schema.minItems) fail(`must have at least ${schema.minItems} item(s)`);
    if (schema.items !== undefined) a.forEach((x, i) => errors.push(...validate(x, schema.items as Schema, root, pointer(path, i))));
  }
  if (t === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, Schema>).map(([p, s]) => [new RegExp(p, 'u'), s] as const);
    for (const r of (schema.required ?? []) as string[]) if (!(r in o)) fail(`is missing the required property ${quote(r)}`);
    if (typeof schema.minProperties === 'number' && keys.length < schema.minProperties) fail(`must have at least ${schema.minProperties} propert${schema.minProperties === 1 ? 'y' : 'ies'}`);
    for (const k of keys) {
      const at = pointer(path, k);
      if (schema.propertyNames !== undefined) {
        for (const e of validate(k, schema.propertyNames as Schema, root, at)) fail(`property name ${e.message}`, at);
      }
      let matched = false;
      if (k in props) {
        matched = true;
        errors.push(...validate(o[k], props[k], root, at));
      }
      for (const [re, s] of patterns) {
        if (!re.test(k)) continue;
        matched = true;
        errors.push(...validate(o[k], s, root, at));
      }
      if (matched || schema.additionalProperties === undefined || schema.additionalProperties === true) continue;
      if (schema.additionalProperties === false) fail(`is not an allowed property (allowed: ${Object.keys(props).join(', ')})`, at);
      else errors.push(...validate(o[k], schema.additionalProperties as Schema, root, at));
    }
  }
  for (const [kw, all] of [['oneOf', schema.oneOf], ['anyOf', schema.anyOf]] as const) {
    if (all === undefined) continue;
    const results = (all as Schema[]).map((s) => validate(value, s, root, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (kw === 'anyOf' ? passing === 0 : passing !== 1) {
      if (passing > 1) fail('matches more than one of the allowed forms');
      // The closest alternative's errors say the most.
      else errors.push(...results.reduce((a, b) => (b.length < a.length ? b : a)));
    }
  }
  return errors;
}

/** The errors as lines: `FILE: /a/b: message`. */
export function formatSchemaErrors(file: string, errors: SchemaError[]): string[] {
  return errors.map((e) => `${file}: ${e.path === '' ? '(top level)' : e.path}: ${e.message}`);
}
