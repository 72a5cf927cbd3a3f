// `refit scale-status` through a real worker: the workflow asks the worker that serves the model, whose target
// here is the local one, which does not autoscale and says so per environment. On Kubernetes the same workflow
// reads what KEDA and the HPA report (kedaScaling.test.ts checks that reading on the node).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RefitClient } from '../../client/refitClient.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { ScaleStatusResult } from '../../shared/operations.js';
import { packageRoot } from '../../platform/paths.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { recordLatestHistory } from '../harness/recordHistory.js';
import { readRunState } from '../harness/runState.js';

const run = promisify(execFile);

describe('refit scale-status', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  beforeAll(async () => {
    fixture = await startFixture('scale-status');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    await refit.register([
      fixture.automation((input) => {
        input.name = 'scaled';
        input.action.deployment_spec = {
          ...input.action.deployment_spec,
          environments: ['staging', 'prod'],
          auto_scale_config: {
            min_replica_count: 1,
            max_replica_count: 4,
            polling_interval: 30,
            cool_down_period: 300,
            triggers: [
              { type: 'AutoScalingPrometheusTrigger', query_spec: { metric_type: 'latency', aggregation_type: 'max', time_period: 4 }, threshold: 60 },
            ],
          },
        };
      }),
    ]);
  });
  afterAll(async () => {
    await refit?.delete('scaled').catch(() => undefined);
    await fixture?.close();
  });

  const cli = (...args: string[]) =>
    run(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'scale-status', ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: readRunState().address, REFIT_TASK_QUEUE: fixture.taskQueue, NO_COLOR: '1' },
    });

  it('says per environment that the local target does not autoscale', async () => {
    const { stdout } = await cli('scaled', '--json');
    await recordLatestHistory(fixture.server.client, WorkflowTypes.scaleStatus, fixture.taskQueue, 'scale-status');
    const status = JSON.parse(stdout) as ScaleStatusResult;
    expect(status).toMatchObject({ automation: 'scaled', model_id: 'scale-status' });
    expect(status.environments.map((environment) => environment.environment)).toEqual(['staging', 'prod']);
    for (const environment of status.environments) {
      expect(environment).toMatchObject({ variations: [], unsupported: expect.stringMatching(/^the local target .* does not autoscale/) });
    }
    const { stdout: text } = await cli('scaled');
    expect(text).toContain(`scaled (model scale-status)`);
    expect(text).toMatch(/environment staging, the local target: the local target runs number_of_pods servers per variation and does not autoscale/);
  });

  it('names an automation that is not registered', async () => {
    await expect(cli('nonesuch')).rejects.toMatchObject({ stderr: expect.stringContaining('nonesuch') });
  });
});
