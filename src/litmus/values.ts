// Which values an observable takes: a state's names (activity, APIC mode, VMX mode), 0 or 1 for a flag, a number
// otherwise. The validator's condition checks and `await` share it.

import type { Observable, Value } from './ast.js';
import { observableName } from './format.js';
import { ACTIVITY_NAMES, APIC_MODE_NAMES, VMX_MODE_NAMES, didYouMean, oneOf } from './names.js';

/** The names a state observable takes, or null for a numeric one. */
export function stateNames(loc: Observable): readonly string[] | null {
  return loc.kind === 'activity' ? ACTIVITY_NAMES : loc.kind === 'apic-mode' ? APIC_MODE_NAMES : loc.kind === 'vmx' ? VMX_MODE_NAMES : null;
}

/** Observables that are 0 or 1. */
export const FLAG_OBSERVABLES: ReadonlySet<Observable['kind']> = new Set(['smm', 'done', 'irr', 'isr', 'tmr', 'remote-irr', 'running', 'pir', 'gif']);

/** What is wrong with comparing `loc` to `v`, or null. */
export function stateValueError(loc: Observable, v: Value): string | null {
  const name = observableName(loc);
  const names = stateNames(loc);
  if (names !== null) {
    if (v.kind === 'sym' && names.includes(v.name)) return null;
    const found = v.kind === 'sym' ? `\`${v.name}\`${didYouMean(v.name, names)}` : `the number ${v.value}`;
    return `\`${name}\` is one of ${oneOf(names)}; found ${found}`;
  }
  if (v.kind === 'sym') return `\`${name}\` is a number; found the name \`${v.name}\``;
  if (FLAG_OBSERVABLES.has(loc.kind) && v.value > 1n) return `\`${name}\` is 0 or 1; found ${v.value}`;
  return null;
}
