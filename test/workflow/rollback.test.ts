import path from 'node:path';
import { recordLatestHistory } from '../harness/recordHistory.js';
import { WorkflowTypes } from '../../shared/names.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { RefitClient } from '../../client/refitClient.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { predict, startFixture, type Fixture } from '../harness/buildDeployFixture.js';

describe('refit rollback', () => {
  let fixture: Fixture;
  let refit: RefitClient;
  let target: LocalDeploymentTarget;
  const builds: string[] = [];
  beforeAll(async () => {
    fixture = await startFixture('rollback');
    refit = new RefitClient(fixture.server.client, fixture.taskQueue);
    target = new LocalDeploymentTarget({
      deploymentsRoot: path.join(fixture.home, 'deployments'),
      sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
      secrets: null as never,
    });
    const automation = fixture.automation((input) => (input.name = 'rollme'));
    await refit.register([automation]);
    for (let run = 0; run < 3; run++) builds.push(((await (await refit.run('rollme')).result()) as BuildDeployResult).build_id);
  });
  afterAll(async () => {
    await refit?.delete('rollme').catch(() => undefined);
    await fixture?.close();
  });

  const serving = async () => {
    const status = (await target.status('rollback', ''))!;
    return { build: status.variations.default!.buildId, answered: (await predict(status.url!, 'rollback')).build };
  };

  it('puts back the build served just before, as a recorded run that says who and why', async () => {
    expect(await serving()).toEqual({ build: builds[2], answered: builds[2] });
    const result = await refit.rollback('rollme', { by: 'erin', reason: 'latency regression' });
    expect(result).toEqual({
      automation: 'rollme',
      model_id: 'rollback',
      by: 'erin',
      reason: 'latency regression',
      rolled_back: [{ environment: '', variation: 'default', from: builds[2], to: builds[1] }],
    });
    expect(await serving()).toEqual({ build: builds[1], answered: builds[1] });
    await recordLatestHistory(fixture.server.client, WorkflowTypes.rollbackDeploy, fixture.taskQueue, 'rollback-deploy');
  });

  it('puts back a named build with --to, and refuses one that never served', async () => {
    await refit.rollback('rollme', { toBuildId: builds[0], by: 'erin' });
    expect(await serving()).toEqual({ build: builds[0], answered: builds[0] });
    await expect(refit.rollback('rollme', { toBuildId: 'rollback-000000000000', by: 'erin' })).rejects.toThrow();
    const failure = await refit.rollback('rollme', { toBuildId: 'rollback-000000000000', by: 'erin' }).catch((err: { cause?: Error }) => err.cause?.message);
    expect(failure).toMatch(/^build rollback-000000000000 never served variation "default" of rollback; it served: /);
    expect(await serving()).toEqual({ build: builds[0], answered: builds[0] });
  });

  it('lists rollbacks in the history beside the builds', async () => {
    let records = await refit.history('rollme', 20);
    for (let tries = 0; tries < 50 && records.filter((record) => record.kind === 'rollback').length < 2; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      records = await refit.history('rollme', 20);
    }
    const rollbacks = records.filter((record) => record.kind === 'rollback' && record.status === 'COMPLETED');
    expect(rollbacks).toHaveLength(2);
    expect(rollbacks.map((record) => record.reason)).toContain(`rolled back ${builds[2]} → ${builds[1]} by erin (latency regression)`);
    expect(records.filter((record) => record.kind === 'build')).toHaveLength(3);
  });
});
