// `refit run --wait` follows a run without polling on a timer: a long poll on the run's history wakes it
// when the run records something, and only then is the status asked. Refit's real workflow on the real dev
// server; its activities are test doubles (a build that takes seconds in silence is what is being followed).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { RefitClient } from '../../client/refitClient.js';
import type { DeploymentRequest } from '../../shared/deployment.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult, RunStatus } from '../../shared/runTypes.js';
import { validateAutomation } from '../../spec/validate.js';
import { readRunState } from '../harness/runState.js';
import { RpcCounter } from '../harness/rpcCounter.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';

const BUILD_MS = 5_000;

describe('following a run', () => {
  const taskQueue = uniqueTaskQueue('follow');
  const hostQueue = `${taskQueue}@double-host`;
  const rpc = new RpcCounter();
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  let connection: Connection;
  let workers: Worker[] = [];
  let running: Promise<void>[] = [];

  beforeAll(async () => {
    server = await connectToTestServer();
    connection = await Connection.connect({ address: readRunState().address, interceptors: rpc.interceptors() });
    const limits = { buildMinutes: 1, metricWaitMinutes: 1, queryMinutes: 1, hostDeadlineHours: 1 };
    const activities = {
      claimWorkspace: async () => ({ hostTaskQueue: hostQueue, buildDir: '/nowhere', limits }),
      cloneModelRepository: async () => ({ commit: 'c0ffee', modelDir: '/nowhere/src' }),
      buildModel: async () => {
        // Heartbeats, as a real build does: they are not history events, so they wake nobody.
        for (let waited = 0; waited < BUILD_MS; waited += 500) {
          Context.current().heartbeat({ step: 'training' });
          await sleep(500);
        }
        return {
          artifactDir: '/nowhere/artifact',
          metricsFile: '/nowhere/m',
          python: 'python3',
          logFile: '/nowhere/log',
          durationMs: BUILD_MS,
          tests: 'none' as const,
          environmentReused: true,
          limits: [],
          tags: [],
        };
      },
      collectMetrics: async () => ({ f1_score: 0.9 }),
      checkDeploymentCondition: async () => ({ passed: true, reason: 'f1_score 0.9 is above the threshold 0.65', metric_name: 'f1_score', value: 0.9 }),
      deployBuild: async (request: DeploymentRequest) => ({
        environment: request.environment,
        variation: request.spec.variation_name,
        build_id: request.buildId,
        changed: true,
        notes: [],
      }),
    };
    const common = { connection: server.nativeConnection, namespace: server.namespace, activities, shutdownGraceTime: '2 seconds' };
    workers = [
      await Worker.create({ ...common, taskQueue, workflowBundle: { codePath: readRunState().workflowBundlePath } }),
      await Worker.create({ ...common, taskQueue: hostQueue }),
    ];
    running = workers.map((worker) => worker.run());
  });
  afterAll(async () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(running);
    await connection?.close();
    await server?.close();
  });

  it('shows each step as it begins and asks nothing while a long build runs', async () => {
    const validated = validateAutomation({
      name: 'followed',
      model_id: 'followed',
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: 'https://example.com/models.git' },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: { number_of_pods: 1 },
      },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    const refit = new RefitClient(new Client({ connection, namespace: server.namespace }), taskQueue);
    const handle = await refit.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue,
      workflowId: `followed-${taskQueue}`,
      args: [{ automation: validated.automation, trigger: { kind: 'manual' } }],
    });
    const seen: { step: RunStatus['step']; at: number }[] = [];
    const before = rpc.snapshot();
    const result = await refit.follow(handle, (status) => seen.push({ step: status.step, at: Date.now() }));
    const calls = rpc.since(before);
    expect(result.deployed).toBe(true);
    expect(seen.map((entry) => entry.step)).toEqual(expect.arrayContaining(['cloning', 'building', 'deploying']));
    // Polling every 500 ms would ask about 10 times during the build alone; woken by the history, the
    // status is asked when a workflow task has run, and the build's seconds pass in silence.
    const building = seen.find((entry) => entry.step === 'building')!;
    const after = seen[seen.indexOf(building) + 1];
    expect(after).toBeDefined();
    expect(after!.at - building.at).toBeGreaterThanOrEqual(BUILD_MS - 1_000);
    const queriesDuringBuild = (rpc.sentAt.get('QueryWorkflow') ?? []).filter((at) => at > building.at + 500 && at < after!.at - 500);
    expect(queriesDuringBuild).toEqual([]);
    expect(calls.QueryWorkflow ?? 0).toBeLessThanOrEqual(12);
  });
});
