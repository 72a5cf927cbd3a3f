// What the tests bundle: every workflow Refit runs, and the smoke test's.
export * from '../../workflows/index.js';
export { smokeTest } from './smokeTest.js';
