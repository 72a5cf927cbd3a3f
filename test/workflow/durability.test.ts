import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WorkflowHandle } from '@temporalio/client';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';
import { readState, modelFolder } from '../../activities/deploy/local/servingState.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { runningProcesses } from '../../platform/processes.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult, RunStatus } from '../../shared/runTypes.js';
import { validateAutomation } from '../../spec/validate.js';
import { MODEL_FOLDER, TEST_VENV_CACHE, TOKEN } from '../harness/buildDeployFixture.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';
import { recordHistory } from '../harness/recordHistory.js';
import { activityAttempts } from '../harness/runHistory.js';
import { waitForStatus } from '../harness/runStatus.js';
import { startWorkerProcess, type WorkerProcess } from '../harness/workerProcesses.js';

// A worker is killed in the middle of a run and another takes over: each run must finish exactly once,
// and nothing may be deployed twice. The worker runs in a process of its own so that it can be killed.
describe('durability: a run survives its worker being killed', () => {
  let git: GitServer;
  let home: string;
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    git = await startGitServer(TOKEN);
    await git.publish('models', path.join(packageRoot(), 'examples', 'model-repo'));
    home = mkdtempSync(path.join(os.tmpdir(), 'refit-durability-'));
    await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', TOKEN);
    server = await connectToTestServer();
  });
  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await stopAllLocalServing(path.join(home, 'deployments'));
    await git?.stop();
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const startWorker = async (taskQueue: string, grace?: string) => {
    const worker = await startWorkerProcess({ taskQueue, home, venvCache: TEST_VENV_CACHE, grace, logFile: path.join(home, 'worker.log') });
    workers.push(worker);
    return worker;
  };

  const start = async (modelId: string, taskQueue: string, buildEnv: string[], podEnv: string[] = []) => {
    const validated = validateAutomation({
      name: `${modelId}-automation`,
      model_id: modelId,
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: `${git.url}/models.git#${MODEL_FOLDER}`, git_access_token_secret: 'git_token', env_vars: buildEnv },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: { number_of_pods: 2, cpu_fraction: 1, memory: '1Gi', env_vars: podEnv, deployment_process_timeout_limit: 120 },
      },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    return server.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue,
      workflowId: `${modelId}-${taskQueue}`,
      args: [{ automation: validated.automation, trigger: { kind: 'manual' } }],
    });
  };

  const waitForStep = (handle: WorkflowHandle, step: RunStatus['step'], extra: (status: RunStatus) => boolean = () => true) =>
    waitForStatus(handle, (status) => status.step === step && extra(status));

  // Over the run and its promotion workflow, where the deploy happens.
  const attemptsOf = (handle: WorkflowHandle, activity: string) => activityAttempts(server.client, handle.workflowId, activity);

  /** Model servers of this test's home that are running (a killed attempt's pods must not linger). */
  // The model servers themselves, not the sandboxes (bwrap) they run in.
  const servingProcessesOf = (modelId: string) =>
    runningProcesses()
      .map(({ command }) => command)
      .filter(
        (command) =>
          command.includes('refit_sdk.serve') && !command.startsWith('bwrap ') && command.includes(home) && command.includes(`--model-name ${modelId} `),
      );

  it('finishes exactly once when the worker is killed (SIGKILL) during the build', async () => {
    const taskQueue = uniqueTaskQueue('kill-build');
    const first = await startWorker(taskQueue);
    const handle = await start('killbuild', taskQueue, ['TRAINING_DELAY_SECONDS=6']);
    const status = await waitForStep(
      handle,
      'building',
      (s) =>
        existsSync(path.join(home, 'builds', s.build_id, 'build.log')) &&
        readFileSync(path.join(home, 'builds', s.build_id, 'build.log'), 'utf8').includes('training: waiting'),
    );
    first.child.kill('SIGKILL');
    await first.exited;
    // The sandbox (bubblewrap's --die-with-parent) went down with the worker: no orphan training process keeps running.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const orphans = runningProcesses().filter(({ command }) => command.includes(path.join(home, 'builds', status.build_id)));
    expect(orphans).toEqual([]);

    await startWorker(taskQueue);
    const result = await handle.result();
    expect(result).toMatchObject({ deployed: true, step: 'finished' });
    const build = await attemptsOf(handle, 'buildModel');
    expect(build).toEqual({ scheduled: 1, attempts: [2], completed: 1 }); // the second attempt finished it
    const deploy = await attemptsOf(handle, 'deployBuild');
    expect(deploy.completed).toBe(1);
    const state = readState(modelFolder(path.join(home, 'deployments'), '', 'killbuild'), 'killbuild', '');
    expect(state.variations.default).toMatchObject({ buildId: result.build_id, history: [] });
    expect(servingProcessesOf('killbuild')).toHaveLength(2);
  });

  it('finishes exactly once when the worker is killed (SIGKILL) during the deploy, without deploying twice', async () => {
    const taskQueue = uniqueTaskQueue('kill-deploy');
    const first = await startWorker(taskQueue);
    const handle = await start('killdeploy', taskQueue, [], ['SERVING_START_DELAY_SECONDS=5']);
    await waitForStep(handle, 'deploying');
    const folder = modelFolder(path.join(home, 'deployments'), '', 'killdeploy');
    const deadline = Date.now() + 30_000;
    while (!(readState(folder, 'killdeploy', '').pending?.length === 2) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readState(folder, 'killdeploy', '').pending).toHaveLength(2); // its pods were starting
    first.child.kill('SIGKILL');
    await first.exited;

    await startWorker(taskQueue);
    const result = await handle.result();
    expect(result).toMatchObject({ deployed: true, step: 'finished' });
    const deploy = await attemptsOf(handle, 'deployBuild');
    expect(deploy).toEqual({ scheduled: 1, attempts: [2], completed: 1 });
    await recordHistory(server.client, handle.workflowId, 'worker-killed-during-deploy');
    const state = readState(folder, 'killdeploy', '');
    expect(state.pending).toBeUndefined();
    expect(state.variations.default).toMatchObject({ buildId: result.build_id, history: [] });
    // The first attempt's pods were stopped; exactly the deployed ones serve.
    expect(servingProcessesOf('killdeploy')).toHaveLength(2);
    for (const pod of state.variations.default!.pods)
      expect(servingProcessesOf('killdeploy').some((command) => command.includes(`--port ${pod.port} `))).toBe(true);
  });

  it('lets the running build finish when the worker is stopped with SIGTERM, within the grace time', async () => {
    const taskQueue = uniqueTaskQueue('sigterm');
    const first = await startWorker(taskQueue, '60 seconds');
    const handle = await start('sigterm', taskQueue, ['TRAINING_DELAY_SECONDS=4']);
    const status = await waitForStep(
      handle,
      'building',
      (s) =>
        existsSync(path.join(home, 'builds', s.build_id, 'build.log')) &&
        readFileSync(path.join(home, 'builds', s.build_id, 'build.log'), 'utf8').includes('training: waiting'),
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // It stopped only after the build it was running had finished and been reported.
    expect(existsSync(path.join(home, 'builds', status.build_id, 'build-result.json'))).toBe(true);
    expect(await attemptsOf(handle, 'buildModel')).toEqual({ scheduled: 1, attempts: [1], completed: 1 });

    await startWorker(taskQueue);
    const result = await handle.result();
    expect(result).toMatchObject({ deployed: true, step: 'finished' });
  });
});
