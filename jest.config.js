// Tests run on the compiled output in dist/ (`make test` builds first), in jest's native ESM mode:
// @kubernetes/client-node 1.x is ESM-only and jest's CommonJS runtime cannot load it.
export default {
  testEnvironment: 'node',
  rootDir: 'dist',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  globalSetup: '<rootDir>/test/harness/globalSetup.js',
  globalTeardown: '<rootDir>/test/harness/globalTeardown.js',
  testTimeout: 120_000,
  // One Temporal dev server serves the whole run; two cores cannot carry many parallel workers.
  maxWorkers: 2,
};
