import tseslint from 'typescript-eslint';

// The layers of src/ (README "Layout"): each may import only from itself and the layers before it. The model (every
// layer before backends) has no I/O: no `node:` module, so it runs in a browser.
const LAYERS = [
  ['arch'],
  ['apic', 'ioapic', 'cpu', 'pic'],
  ['machine'],
  ['assist'],
  ['litmus', 'scenarios'],
  ['sim'],
  ['explore'],
  ['backends', 'vmm'],
  ['cli'],
];
const MODEL_LAYERS = 7;

function layerRules(i) {
  const above = LAYERS.slice(i + 1).flat();
  const patterns = above.length === 0 ? [] : [{ group: above.flatMap((d) => [`**/${d}/*`, `**/${d}/**`]), message: `src/${LAYERS[i].join(', src/')} may not import from a layer above it (${above.join(', ')}): see README "Layout".` }];
  if (i < MODEL_LAYERS) patterns.push({ group: ['node:*'], message: 'the model has no I/O: it must run in a browser (no node: modules below src/backends).' });
  return {
    files: LAYERS[i].map((d) => `src/${d}/**/*.ts`),
    // Reading files is the CLI's business; litmus/check.ts is its helper (the CLI and the backends import it).
    ignores: ['src/litmus/check.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

// The model's state words are written only through src/arch/writes.ts (`put`, `putFill`, `putAll`): the explorer's
// hash is updated from the writes they note and its way back undoes them, so a write past them would leave the hash
// stale and the undo wrong. The state array is `s` or `state`
// (or `x.s`, `x.state`) in every device, the simulator and the assist layer.
const STATE = '/^(s|state)$/';
const stateWrites = {
  files: ['apic', 'ioapic', 'cpu', 'pic', 'machine', 'assist', 'sim'].map((d) => `src/${d}/**/*.ts`),
  rules: {
    'no-restricted-syntax': ['error', ...[
      `AssignmentExpression > MemberExpression.left[computed=true][object.name=${STATE}]`,
      `AssignmentExpression > MemberExpression.left[computed=true][object.property.name=${STATE}]`,
      `UpdateExpression > MemberExpression.argument[computed=true][object.name=${STATE}]`,
      `UpdateExpression > MemberExpression.argument[computed=true][object.property.name=${STATE}]`,
      `CallExpression > MemberExpression.callee[property.name=/^(fill|set|copyWithin)$/][object.name=${STATE}]`,
      `CallExpression > MemberExpression.callee[property.name=/^(fill|set|copyWithin)$/][object.property.name=${STATE}]`,
    ].map((selector) => ({ selector, message: 'state words are written through put / putFill / putAll (src/arch/writes.ts), which the explorer\'s hash and undo rely on' }))],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'build/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...LAYERS.map((_, i) => layerRules(i)),
  stateWrites,
);
