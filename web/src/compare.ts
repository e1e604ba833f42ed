// Two profiles on one test: the outcomes each allows, the ones that differ, and, for a differing outcome, the run
// to it under the profile that allows it beside the same steps under the other, flagged where the two part.

import type { CpuState, MachineState, RawTrace, RunAnswer } from './types.js';

export interface CompareRow {
  key: string;
  values: Record<string, string>;
  a: number;
  b: number;
  satisfies: boolean;
  differs: boolean;
}

export function compareOutcomes(a: RunAnswer, b: RunAnswer): CompareRow[] {
  const rows = new Map<string, CompareRow>();
  for (const o of a.outcomes) rows.set(o.key, { key: o.key, values: o.values, a: o.count, b: 0, satisfies: o.satisfies, differs: true });
  for (const o of b.outcomes) {
    const r = rows.get(o.key);
    if (r) r.b = o.count;
    else rows.set(o.key, { key: o.key, values: o.values, a: 0, b: o.count, satisfies: o.satisfies, differs: true });
  }
  for (const r of rows.values()) r.differs = (r.a === 0) !== (r.b === 0);
  return [...rows.values()].sort((x, y) => Number(y.differs) - Number(x.differs) || x.key.localeCompare(y.key));
}

export function renderCompareTable(target: HTMLElement, a: RunAnswer, b: RunAnswer, rows: CompareRow[], selected: string | null, onSelect: (key: string) => void): void {
  target.replaceChildren();
  const sum = document.createElement('p');
  sum.className = 'compare-summary';
  const n = rows.filter((r) => r.differs).length;
  sum.textContent = n === 0
    ? `${a.profile} and ${b.profile} allow the same ${rows.length} outcome${rows.length === 1 ? '' : 's'}.`
    : `${n} outcome${n === 1 ? '' : 's'} differ between ${a.profile} (${a.ok ? 'Ok' : 'No'}, ${a.observation.toLowerCase()}) and ${b.profile} (${b.ok ? 'Ok' : 'No'}, ${b.observation.toLowerCase()}).`;
  target.appendChild(sum);
  const names = rows.length ? Object.keys(rows[0].values) : [];
  const table = document.createElement('table');
  table.className = 'outcomes compare';
  const hr = document.createElement('tr');
  for (const h of ['', ...names, a.profile, b.profile, '']) {
    const th = document.createElement('th');
    th.textContent = h;
    hr.appendChild(th);
  }
  table.appendChild(hr);
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.className = `outcome${r.differs ? ' differs' : ''}${r.key === selected ? ' selected' : ''}`;
    tr.dataset.key = r.key;
    tr.tabIndex = 0;
    const cells = [r.satisfies ? '✓' : '', ...names.map((k) => r.values[k]), r.a ? String(r.a) : '—', r.b ? String(r.b) : '—',
      r.differs ? `only under ${r.a ? a.profile : b.profile}` : 'both'];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.appendChild(td);
    }
    tr.addEventListener('click', () => onSelect(r.key));
    table.appendChild(tr);
  }
  target.appendChild(table);
}

/** The machine fields that differ after the same step under two profiles (`P0 held: intr (IF=0) / —`). */
export function stateDifferences(x: MachineState, y: MachineState): string[] {
  const out: string[] = [];
  const show = (v: unknown): string => (Array.isArray(v) ? (v.length ? v.map((e) => (typeof e === 'object' ? Object.values(e as object).join(' ') : String(e))).join(', ') : '—') : String(v));
  x.cpus.forEach((c, i) => {
    for (const k of Object.keys(c) as (keyof CpuState)[]) {
      const a = show(c[k]), b = show(y.cpus[i]?.[k]);
      if (a !== b) out.push(`P${i} ${k}: ${a} / ${b}`);
    }
  });
  for (const k of Object.keys(x.observables)) if (x.observables[k] !== y.observables[k]) out.push(`${k}: ${x.observables[k]} / ${y.observables[k]}`);
  return out;
}

/** A sentence saying where two runs of the same steps part. */
export function partingText(at: number | null, x: RawTrace, y: RawTrace): string {
  if (at === null) return `The same steps do the same under ${x.profile} and ${y.profile}.`;
  const sx = x.steps[at], sy = y.steps[at];
  const says = (s: typeof sx | undefined, t: RawTrace): string =>
    s ? `“${[s.text, ...s.effects.filter((e) => e !== s.text)].join('; ')}”` : t.blockedAt === at ? 'that step cannot happen' : 'the run has ended';
  const head = `The runs part at step ${at + 1}`;
  if (sx && sy && sx.text === sy.text && sx.effects.join() === sy.effects.join() && sx.state && sy.state) {
    return `${head}, ${says(sx, x)}: it leaves the machine differently (${x.profile} / ${y.profile}): ${stateDifferences(sx.state, sy.state).join('; ')}.`;
  }
  return `${head}: under ${x.profile} ${says(sx, x)}; under ${y.profile} ${says(sy, y)}.`;
}
