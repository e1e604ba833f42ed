// Judge saved suite reports again by the model as it is now. What a backend did (the histogram of outcomes, the
// failed runs) is a fact of the run and stays; whether the model allows each outcome, and which profiles do, is
// the model's answer and changes when the model does (a profile gains a quirk, a rule is fixed).

import { join } from 'node:path';
import { loadLitmus } from '../litmus/check.js';
import { DEFAULT_PROFILE, PROFILES, findProfile, type Profile } from '../sim/profiles.js';
import { modelOutcomes, type ModelSummary } from './conform.js';
import type { SuiteJson, TestJson } from './report.js';

export interface RejudgeResult {
  report: SuiteJson;
  /** Tests that could not be judged again (file gone or no longer parses), with why; they keep their verdicts. */
  skipped: { file: string; why: string }[];
  /** Outcomes whose verdict or allowing profiles changed. */
  changed: number;
}

/** The model's answers, by file text and profile: several reports of one catalog share them. */
export type ModelCache = Map<string, ModelSummary>;

/**
 * `dir`: where the report's litmus files are now (the report's own `dir` was the one at run time). `cache` may be
 * shared between calls for reports of the same files.
 */
export function rejudge(report: SuiteJson, dir: string, cache: ModelCache = new Map()): RejudgeResult {
  const profile = findProfile(report.profile) ?? DEFAULT_PROFILE;
  const skipped: RejudgeResult['skipped'] = [];
  let changed = 0;
  const tests = report.tests.map((t): TestJson => {
    if (t.status !== 'ran') return t;
    const parsed = loadLitmus(join(dir, t.file));
    if (!parsed.ok) {
      skipped.push({ file: t.file, why: parsed.errors[0]?.format().split('\n')[0] ?? 'does not parse' });
      return t;
    }
    const test = parsed.test;
    const summary = (p: Profile): ModelSummary => {
      const k = `${join(dir, t.file)}\0${p.name}`;
      let m = cache.get(k);
      if (!m) cache.set(k, (m = modelOutcomes(test, p)));
      return m;
    };
    const model = summary(profile);
    const allowed = new Set(model.allowed);
    const complete = model.answer?.complete ?? false;
    const allowedBy = (key: string): string[] => PROFILES.filter((p) => p.name !== profile.name && summary(p).allowed.includes(key)).map((p) => p.name).sort();
    let forbidden = 0;
    const outcomes = t.outcomes.map((o) => {
      const ok = allowed.has(o.key);
      const verdict = ok ? 'allowed' as const : complete ? 'FORBIDDEN' as const : 'unexplored' as const;
      const by = ok ? [] : allowedBy(o.key);
      if (verdict === 'FORBIDDEN') forbidden += o.count;
      if (verdict !== o.verdict || by.join() !== o.allowedBy.join()) changed++;
      return { ...o, verdict, allowedBy: by };
    });
    const seen = new Set(t.outcomes.map((o) => o.key));
    return {
      ...t, outcomes, forbidden, verdict: forbidden > 0 ? 'FORBIDDEN' : 'allowed',
      model: { profile: profile.name, complete: model.answer?.complete ?? null, ok: model.answer?.ok ?? null, error: model.error, allowed: model.allowed.length, notObserved: model.allowed.filter((k) => !seen.has(k)).sort() },
    };
  });
  return { report: { ...report, tests }, skipped, changed };
}
