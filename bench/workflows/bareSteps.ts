// The floor Temporal itself sets: a workflow with as many activities as a BuildDeploy run, each doing
// nothing, the first on the shared queue and the rest on the worker's own queue, as Refit routes them.
import { proxyActivities } from '@temporalio/workflow';
import type { NoopActivities } from '../worker/noopActivities.js';

export async function bareSteps(input: { hostTaskQueue: string; steps: number }): Promise<number> {
  const shared = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute' });
  const host = proxyActivities<NoopActivities>({ taskQueue: input.hostTaskQueue, startToCloseTimeout: '1 minute', heartbeatTimeout: '30 seconds' });
  let done = await shared.noop(0);
  for (let step = 1; step < input.steps; step++) done = await host.noop(step);
  return done + 1;
}
