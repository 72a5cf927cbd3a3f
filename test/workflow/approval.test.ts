import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { RefitClient } from '../../client/refitClient.js';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { freePort } from '../../platform/freePort.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { packageRoot } from '../../platform/paths.js';
import { startDevServer, type DevServer } from '../../devstack/temporalDevServer.js';
import { SearchAttributeKeys } from '../../shared/names.js';
import { validateAutomation } from '../../spec/validate.js';
import type { BuildDeployResult, RunStatus } from '../../shared/runTypes.js';
import { GOOD_F1, startFixture, TEST_VENV_CACHE, TOKEN, type Fixture } from '../harness/buildDeployFixture.js';
import { recordHistory } from '../harness/recordHistory.js';
import { waitForStatus } from '../harness/runStatus.js';
import { startWorkerProcess } from '../harness/workerProcesses.js';

const waitForStep = (handle: WorkflowHandle, step: RunStatus['step']) => waitForStatus(handle, (status) => status.step === step);

describe('approval gate', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  beforeAll(async () => {
    fixture = await startFixture('approval');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
  });
  afterAll(async () => fixture?.close());

  const gated = (policy: Record<string, unknown> = {}) =>
    fixture.automation((input) => {
      input.name = `gated-${Object.keys(policy).join('-') || 'plain'}`;
      input.action.approval = { required: true, ...policy };
    });

  it('waits for approval after the condition passes, shows it, and deploys once approved, recording who and why', async () => {
    const handle = await refit.runDefinition(gated());
    const waiting = await waitForStep(handle, 'awaiting_approval');
    expect(waiting.condition).toMatchObject({ passed: true, value: GOOD_F1 });
    expect((await handle.describe()).typedSearchAttributes.get(SearchAttributeKeys.approval)).toBe('pending');
    // Nothing is deployed while it waits.
    expect(waiting.deployments).toEqual([]);
    await expect(refit.decide(handle.workflowId, { approve: true, by: '' })).rejects.toThrow(/say who decides/);
    const { record } = await refit.decide('gated-plain', { approve: true, by: 'alice', reason: 'metrics look right' });
    expect(record).toMatchObject({ decision: 'approved', by: 'alice', reason: 'metrics look right' });
    const result = (await handle.result()) as BuildDeployResult;
    expect(result).toMatchObject({ deployed: true, approval: { decision: 'approved', by: 'alice' } });
    expect(result.reason).toMatch(/is above the threshold 0\.65, approved by alice \(metrics look right\)$/);
    expect((await handle.describe()).typedSearchAttributes.get(SearchAttributeKeys.approval)).toBe('approved');
    await expect(refit.decide(handle.workflowId, { approve: true, by: 'bob' })).rejects.toThrow(/has finished: it is not waiting for approval/);
    await recordHistory(fixture.server.client, handle.workflowId, 'approval-approved');
  });

  it('does not deploy when rejected, and says who rejected it and why', async () => {
    const handle = await refit.runDefinition(gated());
    await waitForStep(handle, 'awaiting_approval');
    await refit.decide(handle.workflowId, { approve: false, by: 'carol', reason: 'wait for the audit' });
    const result = (await handle.result()) as BuildDeployResult;
    expect(result).toMatchObject({ deployed: false, deployments: [], approval: { decision: 'rejected', by: 'carol' } });
    expect(result.reason).toMatch(/^not deployed: f1_score .* is above the threshold 0\.65, but rejected by carol \(wait for the audit\)$/);
    await recordHistory(fixture.server.client, handle.workflowId, 'approval-rejected');
  });

  it('does not deploy when nobody decides in time (on_timeout: reject)', async () => {
    const handle = await refit.runDefinition(gated({ timeout: '3s', on_timeout: 'reject' }));
    const result = (await handle.result()) as BuildDeployResult;
    expect(result).toMatchObject({ deployed: false, approval: { decision: 'timed_out_rejected', by: 'timeout', reason: 'no decision within 3s' } });
    expect((await handle.describe()).typedSearchAttributes.get(SearchAttributeKeys.approval)).toBe('timed_out');
  });
});

describe('an approval-gated run waits across a worker restart and a dev-server restart', () => {
  let git: GitServer;
  let home: string;
  let server: DevServer;
  let port: number;
  const workers: Awaited<ReturnType<typeof startWorkerProcess>>[] = [];
  beforeAll(async () => {
    git = await startGitServer(TOKEN);
    await git.publish('models', path.join(packageRoot(), 'examples', 'model-repo'));
    home = mkdtempSync(path.join(os.tmpdir(), 'refit-approval-restart-'));
    await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', TOKEN);
    port = await freePort();
    server = await startDevServer({ dbFile: path.join(home, 'temporal.sqlite'), stateDir: path.join(home, 'server'), headless: true, port });
  });
  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await server?.stop();
    await stopAllLocalServing(path.join(home, 'deployments'));
    await git?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const connect = async () => {
    const connection = await Connection.connect({ address: server.address });
    return { connection, refit: new RefitClient(new Client({ connection }), 'restart') };
  };

  it('deploys after approval given once both came back', async () => {
    const startWorker = async () => {
      const worker = await startWorkerProcess({
        taskQueue: 'restart',
        home,
        venvCache: TEST_VENV_CACHE,
        logFile: path.join(home, 'worker.log'),
        address: server.address,
      });
      workers.push(worker);
      return worker;
    };
    const first = await startWorker();
    let { connection, refit } = await connect();
    const automation = validateAutomation({
      name: 'gated-restart',
      model_id: 'gated',
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: `${git.url}/models.git#models/breast_cancer`, git_access_token_secret: 'git_token' },
        deployment_spec: { number_of_pods: 1, cpu_fraction: 1, memory: '1Gi' },
        approval: { required: true, timeout: '1h' },
      },
    });
    if (!automation.ok) throw new Error(JSON.stringify(automation.errors));
    const handle = await refit.runDefinition(automation.automation);
    await waitForStep(refit.client.workflow.getHandle(handle.workflowId), 'awaiting_approval');

    first.child.kill('SIGKILL');
    await first.exited;
    await connection.close();
    await server.stop();
    server = await startDevServer({ dbFile: path.join(home, 'temporal.sqlite'), stateDir: path.join(home, 'server'), headless: true, port });
    await startWorker();
    ({ connection, refit } = await connect());
    try {
      await waitForStep(refit.client.workflow.getHandle(handle.workflowId), 'awaiting_approval');
      await refit.decide(handle.workflowId, { approve: true, by: 'dana', reason: 'after the restarts' });
      const result = (await refit.client.workflow.getHandle(handle.workflowId).result()) as BuildDeployResult;
      expect(result).toMatchObject({ deployed: true, approval: { decision: 'approved', by: 'dana' } });
    } finally {
      await connection.close();
    }
  }, 300_000);
});
