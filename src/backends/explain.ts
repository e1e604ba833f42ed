// Explanations of FORBIDDEN outcomes (conformance/explanations.json, docs/conformance.md "The explanations file"):
// data, not prose in code. Each explanation has an id (F1, F2, ...), a title, what it matches (test, backends,
// outcome pattern), one or more classifications and its text. `lapis conformance` attaches every FORBIDDEN outcome
// of the suite reports to the explanations that match it; an outcome none matches is UNEXPLAINED, an explanation
// that matches nothing is stale.

export const EXPLANATIONS_SCHEMA = 'lapis-explanations/1';

export type Classification =
  /** A backend bug; `reference`: the source line, manual section or report that shows it. */
  | { kind: 'backend-bug'; reference: string }
  /** Backend behaviour that named implementation profiles of the model reproduce (they allow the outcome). */
  | { kind: 'profile'; profiles: string[] }
  /** A model decision (docs/decisions.md, `D-n`) the backend does not follow. */
  | { kind: 'decision'; decision: string }
  /** A profile that should reproduce the behaviour and does not (yet). */
  | { kind: 'profile-gap'; profile: string }
  /** Not the backend: a limit of the conformance runner itself; `reference`: the experiment or section that shows it. */
  | { kind: 'runner'; reference: string }
  /** Not established: what happened, or why, is not known. */
  | { kind: 'not-established' };

export const CLASSIFICATION_KINDS = ['backend-bug', 'profile', 'decision', 'profile-gap', 'runner', 'not-established'] as const;

/** A classification in plain words (the web app's report view; CONFORMANCE.md has its own Markdown). */
export function classificationSummary(c: Classification): string {
  switch (c.kind) {
    case 'backend-bug': return `backend bug (${c.reference})`;
    case 'profile': return `reproduced by ${c.profiles.join(', ')}`;
    case 'decision': return `model decision ${c.decision}`;
    case 'profile-gap': return `gap in profile ${c.profile}`;
    case 'runner': return `the runner, not the backend (${c.reference})`;
    case 'not-established': return 'not established';
  }
}

export interface Match {
  /** The test: its file name without `.litmus`. */
  test: string;
  /** The backends (absent: any). */
  backends: string[] | null;
  /** `name=value` parts that all must be in the outcome (absent or empty: any FORBIDDEN outcome of the test). */
  outcome: string[];
}

export interface Explanation {
  id: string;
  title: string;
  match: Match[];
  classification: Classification[];
  /** Markdown paragraphs. */
  text: string;
}

export class ExplanationsError extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Parse and check an explanations file. Throws ExplanationsError naming `source`, the entry and the field. */
export function parseExplanations(text: string, source: string): Explanation[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ExplanationsError(`${source}: not JSON: ${(e as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new ExplanationsError(`${source}: ${what}`);
  };
  if (!isObj(v)) return bad('not a JSON object');
  if (v.schema !== EXPLANATIONS_SCHEMA) return bad(`schema is ${JSON.stringify(v.schema)}, expected "${EXPLANATIONS_SCHEMA}"`);
  if (!Array.isArray(v.explanations)) return bad('explanations: expected an array');
  const out: Explanation[] = [];
  const ids = new Set<string>();
  for (const [i, e] of (v.explanations as unknown[]).entries()) {
    const w = `explanations[${i}]`;
    if (!isObj(e)) return bad(`${w}: expected an object`);
    if (typeof e.id !== 'string' || !/^[A-Za-z][A-Za-z0-9-]*$/.test(e.id)) return bad(`${w}.id: expected an identifier such as "F1"`);
    const at = `${w} (${e.id})`;
    if (ids.has(e.id)) bad(`${at}: the id ${e.id} is used twice`);
    ids.add(e.id);
    if (typeof e.title !== 'string' || e.title === '') return bad(`${at}.title: expected a string`);
    const text = typeof e.text === 'string' ? e.text : strings(e.text) ? e.text.join('\n') : bad(`${at}.text: expected a string or an array of lines`);
    if (!Array.isArray(e.match) || e.match.length === 0) return bad(`${at}.match: expected a non-empty array`);
    const match: Match[] = [];
    for (const [j, m] of (e.match as unknown[]).entries()) {
      const wm = `${at}.match[${j}]`;
      if (!isObj(m)) return bad(`${wm}: expected an object`);
      for (const k of Object.keys(m)) if (!['test', 'backends', 'outcome'].includes(k)) bad(`${wm}: unknown field "${k}" (test, backends, outcome)`);
      if (typeof m.test !== 'string' || m.test === '') return bad(`${wm}.test: expected a test name`);
      if (m.backends !== undefined && !strings(m.backends)) return bad(`${wm}.backends: expected an array of backend names`);
      if (m.outcome !== undefined && !strings(m.outcome)) return bad(`${wm}.outcome: expected an array of "name=value" parts`);
      const outcome = (m.outcome as string[] | undefined) ?? [];
      for (const p of outcome) if (!/^[^=;]+=[^=;]+$/.test(p)) bad(`${wm}.outcome: "${p}" is not "name=value"`);
      match.push({ test: m.test, backends: (m.backends as string[] | undefined) ?? null, outcome: outcome.map(normalPart) });
    }
    if (!Array.isArray(e.classification) || e.classification.length === 0) return bad(`${at}.classification: expected a non-empty array`);
    const classification: Classification[] = [];
    for (const [j, c] of (e.classification as unknown[]).entries()) {
      const wc = `${at}.classification[${j}]`;
      if (!isObj(c)) return bad(`${wc}: expected an object`);
      switch (c.kind) {
        case 'backend-bug':
          if (typeof c.reference !== 'string' || c.reference === '') return bad(`${wc}.reference: a backend bug needs a reference`);
          classification.push({ kind: 'backend-bug', reference: c.reference });
          break;
        case 'profile':
          if (!strings(c.profiles) || c.profiles.length === 0) return bad(`${wc}.profiles: expected the profiles that reproduce it`);
          classification.push({ kind: 'profile', profiles: c.profiles });
          break;
        case 'decision':
          if (typeof c.decision !== 'string' || !/^D-\d+$/.test(c.decision)) return bad(`${wc}.decision: expected a decision such as "D-6"`);
          classification.push({ kind: 'decision', decision: c.decision });
          break;
        case 'profile-gap':
          if (typeof c.profile !== 'string' || c.profile === '') return bad(`${wc}.profile: expected the profile that lacks it`);
          classification.push({ kind: 'profile-gap', profile: c.profile });
          break;
        case 'runner':
          if (typeof c.reference !== 'string' || c.reference === '') return bad(`${wc}.reference: a runner limit needs the experiment that shows it`);
          classification.push({ kind: 'runner', reference: c.reference });
          break;
        case 'not-established':
          classification.push({ kind: 'not-established' });
          break;
        default:
          return bad(`${wc}.kind: expected one of ${CLASSIFICATION_KINDS.join(', ')}`);
      }
    }
    out.push({ id: e.id, title: e.title, match, classification, text });
  }
  return out;
}

/** `name = value` and `name=value` are the same part. */
function normalPart(p: string): string {
  const i = p.indexOf('=');
  return `${p.slice(0, i).trim()}=${p.slice(i + 1).trim()}`;
}

/** Whether `m` matches the FORBIDDEN outcome `key` (the model's `name=value; name=value`) of `test` on `backend`. */
export function matches(m: Match, test: string, backend: string, key: string): boolean {
  if (m.test !== test) return false;
  if (m.backends !== null && !m.backends.includes(backend)) return false;
  const parts = new Set(key.split(';').map((p) => p.trim()).filter((p) => p !== '').map(normalPart));
  return m.outcome.every((p) => parts.has(p));
}

/** The explanations that match an outcome, in file order. */
export function explain(all: Explanation[], test: string, backend: string, key: string): Explanation[] {
  return all.filter((e) => e.match.some((m) => matches(m, test, backend, key)));
}
