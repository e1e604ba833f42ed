// The answer panel: Ok/No, how often the condition holds (always / sometimes / never), and the outcomes table; a
// row picks the outcome whose run the diagram shows.

import type { RunAnswer } from './types.js';

const OBSERVATION: Record<RunAnswer['observation'], string> = { Always: 'always', Sometimes: 'sometimes', Never: 'never' };

/** The outcome worth showing first: a witness for `exists`, a counterexample for `forall` and `~exists`. */
export function interestingOutcome(a: RunAnswer): string | null {
  const q = a.condition.startsWith('forall') ? 'forall' : a.condition.startsWith('~exists') ? '~exists' : 'exists';
  const pick = q === 'forall' ? a.outcomes.find((o) => !o.satisfies) : a.outcomes.find((o) => o.satisfies);
  return (pick ?? a.outcomes[0])?.key ?? null;
}

export function renderAnswer(target: HTMLElement, a: RunAnswer, selected: string | null, onSelect: (key: string) => void): void {
  target.replaceChildren();
  const head = document.createElement('div');
  head.className = 'verdict';
  const badge = document.createElement('span');
  badge.className = `badge ${a.ok ? 'ok' : 'no'}`;
  badge.textContent = a.ok ? 'Ok' : 'No';
  const obs = document.createElement('span');
  obs.className = 'observation';
  obs.dataset.observation = a.observation;
  const total = a.witnesses.positive + a.witnesses.negative;
  obs.textContent = `the condition holds ${OBSERVATION[a.observation]}`;
  head.append(badge, obs);
  target.appendChild(head);

  const cond = document.createElement('div');
  cond.className = 'condition';
  cond.textContent = a.condition;
  target.appendChild(cond);

  const facts = document.createElement('div');
  facts.className = 'facts';
  const parts = [
    `${a.witnesses.positive} of ${total} final state${total === 1 ? '' : 's'} satisfy it`,
    `${a.states.toLocaleString('en')} states explored in ${(a.ms / 1000).toFixed(2)} s`,
    `profile ${a.profile}`,
  ];
  if (!a.complete) parts.push(`incomplete: cut short by ${a.cutBy}`);
  if (a.nonTerminating) parts.push('some run loops forever');
  facts.textContent = parts.join(' · ');
  target.appendChild(facts);

  const names = a.outcomes.length ? Object.keys(a.outcomes[0].values) : [];
  const table = document.createElement('table');
  table.className = 'outcomes';
  const hr = document.createElement('tr');
  for (const h of ['', ...names, 'final states']) {
    const th = document.createElement('th');
    th.textContent = h;
    hr.appendChild(th);
  }
  table.appendChild(hr);
  for (const o of a.outcomes) {
    const tr = document.createElement('tr');
    tr.className = `outcome${o.satisfies ? ' satisfies' : ''}${o.key === selected ? ' selected' : ''}`;
    tr.dataset.key = o.key;
    tr.tabIndex = 0;
    tr.title = o.satisfies ? 'satisfies the condition; show a run to it' : 'show a run to it';
    const mark = document.createElement('td');
    mark.className = 'sat';
    mark.textContent = o.satisfies ? '✓' : '';
    tr.appendChild(mark);
    for (const n of names) {
      const td = document.createElement('td');
      td.textContent = o.values[n];
      tr.appendChild(td);
    }
    const count = document.createElement('td');
    count.textContent = String(o.count);
    tr.appendChild(count);
    tr.addEventListener('click', () => onSelect(o.key));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') onSelect(o.key);
    });
    table.appendChild(tr);
  }
  target.appendChild(table);
  const hint = document.createElement('p');
  hint.className = 'muted';
  hint.textContent = 'Pick an outcome to see a shortest run reaching it. ✓ marks the outcomes that satisfy the condition.';
  target.appendChild(hint);
}
