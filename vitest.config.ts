import { defineConfig } from 'vitest/config';

export default defineConfig({
  // testTimeout is a guard against a test that never ends, not a time budget: no test may depend on how fast the
  // host is (CI = 2 shared cores, often loaded), so it is far above what any test takes there.
  test: { include: ['test/**/*.test.ts'], testTimeout: 300_000 },
});
