import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { describeWorker } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface SmokeTestResult {
  greeting: string;
  worker: { hostname: string; pid: number; node: string };
}

/** The smallest full loop: a client starts it, a worker runs one activity, the result comes back. */
export async function smokeTest(name: string): Promise<SmokeTestResult> {
  const worker = await describeWorker();
  return { greeting: `Hello, ${name}: Refit's worker answered.`, worker };
}
