// What globalSetup hands to the test files. Jest runs test files in worker processes that inherit the
// environment globalSetup leaves behind, so the hand-over is a set of environment variables.
export interface TestRunState {
  address: string;
  namespace: string;
  workflowBundlePath: string;
  stateDir: string;
}

const KEYS = {
  address: 'REFIT_TEST_TEMPORAL_ADDRESS',
  namespace: 'REFIT_TEST_TEMPORAL_NAMESPACE',
  workflowBundlePath: 'REFIT_TEST_WORKFLOW_BUNDLE',
  stateDir: 'REFIT_TEST_STATE_DIR',
} as const satisfies Record<keyof TestRunState, string>;

export function publishRunState(state: TestRunState): void {
  for (const [field, variable] of Object.entries(KEYS)) process.env[variable] = state[field as keyof TestRunState];
}

export function readRunState(): TestRunState {
  const read = (field: keyof TestRunState): string => {
    const value = process.env[KEYS[field]];
    if (!value) throw new Error(`${KEYS[field]} is not set: run the tests through jest's globalSetup (make test)`);
    return value;
  };
  return {
    address: read('address'),
    namespace: read('namespace'),
    workflowBundlePath: read('workflowBundlePath'),
    stateDir: read('stateDir'),
  };
}
