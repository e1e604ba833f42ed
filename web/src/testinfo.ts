// What the page shows about a test before and after a run: read from the parsed test (the page's and the worker's).
import type { LitmusTest } from '../../src/litmus/ast.js';
import type { TestInfo } from './types.js';

export function testInfo(t: LitmusTest): TestInfo {
  const agents = t.blocks.flatMap((b) => (b.kind === 'agent' ? [`D${b.agent}`] : []));
  const st = t.settings;
  return {
    name: t.name, description: t.description, cpus: st.cpus, agents: [...new Set(agents)],
    vcpus: st.accel === 'avic' || st.accel === 'apicv' || st.accel === 'tpr-shadow', quantifier: t.condition.quantifier,
  };
}
