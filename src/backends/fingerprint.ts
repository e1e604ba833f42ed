// `lapis fingerprint REPORT.json`: which profile, and which set of quirks, best explains what an implementation did
// in a conformance report (schema lapis-suite/1). Every observed outcome of every test that ran is judged by the
// model under each candidate: allowed (explained), forbidden by a complete exploration (unexplained) or not
// decided (the exploration was cut short, or the model cannot run the test: neutral). The named profiles are
// ranked; from the best one, single quirk changes that explain what it leaves unexplained are added one at a time
// while they explain more than they break. What is left no quirk explains.

import { join } from 'node:path';
import { loadLitmus } from '../litmus/check.js';
import type { LitmusTest } from '../litmus/ast.js';
import { PROFILES, type Profile } from '../sim/profiles.js';
import { QUIRK_NAMES, deriveProfile, quirkValues, type QuirkName, type QuirkValue } from '../sim/profile-data.js';
import { modelOutcomes, type ModelSummary } from './conform.js';
import type { SuiteJson } from './report.js';

/** Bounds of each exploration: an interrupt storm is cut (undecided) rather than explored for seconds. */
const EXPLORE = { maxStates: 300_000, maxDepth: 10_000 };
/** Quirk changes added to the best profile at most. */
const MAX_CHANGES = 6;

export type Judgement = 'allowed' | 'forbidden' | 'undecided';

export interface Observation {
  file: string;
  test: string;
  key: string;
  /** Runs with this outcome. */
  count: number;
}

export interface Score {
  profile: string;
  /** Tests with an observed outcome the profile forbids. */
  testsUnexplained: number;
  /** Observed outcomes it allows, forbids, does not decide. */
  explained: number;
  unexplained: number;
  undecided: number;
  deviations: number;
}

export interface QuirkChange {
  quirk: QuirkName;
  value: QuirkValue;
}

export interface Unexplained extends Observation {
  /** Single quirk changes to the best set that would allow it (each breaks more than it explains, or it would be in the set). */
  explainers: QuirkChange[];
}

export interface Fingerprint {
  backend: string;
  tests: number;
  observations: number;
  /** Every candidate profile, best first. */
  ranking: Score[];
  /** The best candidate, and the quirk changes from it that explain more. */
  base: string;
  changes: QuirkChange[];
  best: Score;
  /** Observed outcomes the best set forbids. */
  unexplained: Unexplained[];
  /** Per candidate profile, the judgement of every observation (`file\0key`). */
  judgements: Map<string, Map<string, Judgement>>;
}

/** The model's outcomes per test and quirk set; shared between reports of the same catalog. */
export type FingerprintCache = Map<string, ModelSummary>;

interface Ran {
  file: string;
  test: LitmusTest;
  observed: Observation[];
}

function better(a: Score, b: Score): number {
  return a.testsUnexplained - b.testsUnexplained || a.unexplained - b.unexplained || a.deviations - b.deviations;
}

const id = (o: Observation) => `${o.file}\0${o.key}`;

/** Fingerprint a report. `dir`: where its litmus files are now; `candidates`: the profiles to rank (default: the named ones). */
export function fingerprint(report: SuiteJson, dir: string, cache: FingerprintCache = new Map(), candidates: readonly Profile[] = PROFILES): Fingerprint {
  const ran: Ran[] = [];
  for (const t of report.tests) {
    if (t.status !== 'ran' || t.completed === 0) continue;
    const parsed = loadLitmus(join(dir, t.file));
    if (!parsed.ok) continue;
    ran.push({ file: t.file, test: parsed.test, observed: t.outcomes.map((o) => ({ file: t.file, test: parsed.test.name, key: o.key, count: o.count })) });
  }
  const model = (r: Ran, p: Profile): ModelSummary => {
    const k = `${join(dir, r.file)}\0${JSON.stringify(p.quirks)}\0${JSON.stringify(p.settings)}`;
    let m = cache.get(k);
    if (!m) cache.set(k, (m = modelOutcomes(r.test, p, EXPLORE)));
    return m;
  };
  const judge = (r: Ran, p: Profile): Map<string, Judgement> => {
    const m = model(r, p);
    const allowed = new Set(m.allowed);
    const decided = m.error === null && m.answer?.complete === true;
    return new Map(r.observed.map((o) => [id(o), allowed.has(o.key) ? 'allowed' : decided ? 'forbidden' : 'undecided']));
  };
  const judgeAll = (p: Profile): Map<string, Judgement> => new Map(ran.flatMap((r) => [...judge(r, p)]));
  const score = (p: Profile, j: Map<string, Judgement>): Score => {
    const s: Score = { profile: p.name, testsUnexplained: 0, explained: 0, unexplained: 0, undecided: 0, deviations: p.deviations.length };
    for (const r of ran) {
      let bad = false;
      for (const o of r.observed) {
        const v = j.get(id(o));
        if (v === 'allowed') s.explained++;
        else if (v === 'forbidden') {
          s.unexplained++;
          bad = true;
        } else s.undecided++;
      }
      if (bad) s.testsUnexplained++;
    }
    return s;
  };

  const judgements = new Map<string, Map<string, Judgement>>();
  const ranking = candidates.map((p) => {
    const j = judgeAll(p);
    judgements.set(p.name, j);
    return { profile: p, score: score(p, j) };
  }).sort((a, b) => better(a.score, b.score));
  const base = ranking[0].profile;

  // From the best profile: add the single quirk change that explains the most of what is left, while the whole set
  // then explains more than before.
  let current = base;
  let currentJ = judgements.get(base.name)!;
  let currentScore = ranking[0].score;
  const changes: QuirkChange[] = [];
  const explainersOf = new Map<string, QuirkChange[]>();
  const rejected = new Set<string>();
  const withChange = (p: Profile, c: QuirkChange): Profile =>
    deriveProfile(p, `${base.name}+`, '', [{ quirk: c.quirk, value: c.value, behaviour: '', evidence: '' }]);
  for (let round = 0; round < MAX_CHANGES; round++) {
    const left = ran.filter((r) => r.observed.some((o) => currentJ.get(id(o)) === 'forbidden'));
    const gains: { c: QuirkChange; gain: number }[] = [];
    explainersOf.clear();
    for (const q of QUIRK_NAMES) {
      for (const v of quirkValues(q)) {
        if (v === current.quirks[q]) continue;
        const c = { quirk: q, value: v };
        const p = withChange(current, c);
        let gain = 0;
        for (const r of left) {
          const j = judge(r, p);
          for (const o of r.observed) {
            if (currentJ.get(id(o)) !== 'forbidden' || j.get(id(o)) !== 'allowed') continue;
            gain++;
            explainersOf.set(id(o), [...(explainersOf.get(id(o)) ?? []), c]);
          }
        }
        if (gain > 0 && !rejected.has(`${q}=${String(v)}`)) gains.push({ c, gain });
      }
    }
    gains.sort((a, b) => b.gain - a.gain);
    let taken = false;
    for (const { c } of gains) {
      const p = withChange(current, c);
      const j = judgeAll(p);
      const s = score(p, j);
      if (better(s, currentScore) < 0 && s.unexplained < currentScore.unexplained) {
        current = p;
        currentJ = j;
        currentScore = s;
        changes.push(c);
        taken = true;
        break;
      }
      rejected.add(`${c.quirk}=${String(c.value)}`);
    }
    if (!taken) break;
  }
  const unexplained = ran.flatMap((r) => r.observed.filter((o) => currentJ.get(id(o)) === 'forbidden'))
    .map((o) => ({ ...o, explainers: explainersOf.get(id(o)) ?? [] }));
  return {
    backend: report.backend.name, tests: ran.length, observations: ran.reduce((n, r) => n + r.observed.length, 0),
    ranking: ranking.map((r) => r.score), base: base.name, changes, best: { ...currentScore, profile: changes.length > 0 ? `${base.name}+${changes.length}` : base.name },
    unexplained, judgements,
  };
}

export function formatChange(c: QuirkChange): string {
  return c.value === true ? `+${c.quirk}` : c.value === false ? `-${c.quirk}` : `${c.quirk}=${c.value}`;
}

/** The text `lapis fingerprint` prints. */
export function formatFingerprint(f: Fingerprint, version: string): string[] {
  const rows = [['profile', 'tests unexplained', 'outcomes explained', 'unexplained', 'undecided', 'deviations'],
    ...f.ranking.map((s) => [s.profile, `${s.testsUnexplained}/${f.tests}`, String(s.explained), String(s.unexplained), String(s.undecided), String(s.deviations)])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = [`${f.backend} (${version}): ${f.tests} tests run, ${f.observations} distinct outcomes observed`, ''];
  for (const r of rows) lines.push(r.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd());
  lines.push('', `Best: ${f.base}${f.changes.map((c) => ` ${formatChange(c)}`).join('')}: ${f.best.explained} outcomes explained, ${f.best.unexplained} unexplained in ${f.best.testsUnexplained} tests, ${f.best.undecided} undecided`);
  if (f.unexplained.length === 0) lines.push('Every observed outcome is explained.');
  else {
    lines.push('', `Unexplained by ${f.base}${f.changes.map((c) => ` ${formatChange(c)}`).join('')} (${f.unexplained.length}):`);
    for (const u of f.unexplained) {
      const by = u.explainers.length > 0 ? `only with ${u.explainers.map(formatChange).join(' or ')}, which would leave more unexplained` : 'no quirk explains it';
      lines.push(`  ${u.file.replace(/\.litmus$/, '')}: ${u.key} (${u.count} runs): ${by}`);
    }
  }
  return lines;
}
