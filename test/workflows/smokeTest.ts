// The smallest full loop, for the tests only: a client starts it, a worker runs one activity, the result
// comes back. The test worker registers the activity (describeWorker) beside Refit's own.
import { proxyActivities } from '@temporalio/workflow';

export interface SmokeTestResult {
  greeting: string;
  worker: { hostname: string; pid: number; node: string };
}

const { describeWorker } = proxyActivities<{ describeWorker(): Promise<SmokeTestResult['worker']> }>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export async function smokeTest(name: string): Promise<SmokeTestResult> {
  const worker = await describeWorker();
  return { greeting: `Hello, ${name}: Refit's worker answered.`, worker };
}
