// `refit plan --run` on Kubernetes: what apply would change, from server-side dry-run applies against the real
// control plane, and nothing written (every object's resourceVersion and generation the same, none created).
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describeChanges, fieldChanges } from '../../activities/deploy/kubernetes/objectChanges.js';
import * as fixtures from './targetFixture.js';
import { deployRequest, IMAGES, namespaceObjects, settledObjects, spec, useTargetCluster } from './targetFixture.js';

const namespace = 'planned';

describe('plan on the Kubernetes target', () => {
  const cluster = useTargetCluster();
  const target = () => fixtures.targetIn(cluster, namespace);
  const request = (buildId: string, fields: Record<string, unknown> = {}) => deployRequest('pricing', buildId, spec(fields));

  beforeAll(async () => {
    await fixtures.createNamespace(cluster, namespace);
  });

  it('lists what a first deploy would create, and creates nothing', async () => {
    const before = await settledObjects(cluster, namespace);
    expect(await target().plan(request('pricing-1'))).toEqual([
      `create ServiceAccount ${namespace}/pricing-default`,
      `create Deployment ${namespace}/pricing-default`,
      `create Service ${namespace}/pricing`,
      'wait up to 1800 s for the rollout of build pricing-1 before the Services and routes change; if it does not finish, what it created is removed',
    ]);
    expect(await namespaceObjects(cluster, namespace)).toEqual(before);
  });

  it('says what a new build would change and what it leaves alone, and changes nothing', async () => {
    await target().apply(request('pricing-1', { number_of_pods: 2 }));
    const before = await settledObjects(cluster, namespace);
    expect(await target().plan(request('pricing-2', { number_of_pods: 1, number_of_http_server_workers: 4 }))).toEqual([
      `unchanged ServiceAccount ${namespace}/pricing-default`,
      `change Deployment ${namespace}/pricing-default: image ${IMAGES}/pricing:pricing-1 → ${IMAGES}/pricing:pricing-2, replicas 2 → 1, server argument --workers 2 → 4`,
      `unchanged Service ${namespace}/pricing`,
      'wait up to 1800 s for the rollout of build pricing-2 before the Services and routes change; if it does not finish, build pricing-1 is put back',
    ]);
    // What `refit plan --run` asks, before there is a build.
    expect((await target().plan(request('<new build>', { number_of_pods: 2 })))[1]).toBe(
      `change Deployment ${namespace}/pricing-default: image ${IMAGES}/pricing:pricing-1 → ${IMAGES}/pricing:<new build>`,
    );
    // The same build again: nothing would change.
    expect(await target().plan(request('pricing-1', { number_of_pods: 2 }))).toEqual([
      `unchanged ServiceAccount ${namespace}/pricing-default`,
      `unchanged Deployment ${namespace}/pricing-default`,
      `unchanged Service ${namespace}/pricing`,
    ]);
    expect(await namespaceObjects(cluster, namespace)).toEqual(before);
  });

  it('says why a deploy would fail, without failing itself', async () => {
    expect(await target().plan(request('pricing-3', { env_vars: ['TOKEN=secret:pricing-token'] }))).toEqual([
      expect.stringMatching(
        /^the deploy would fail before changing anything: env_vars refer to secret "pricing-token", and namespace "planned" has no Secret "pricing-token"/,
      ),
    ]);
    expect(await fixtures.targetIn(cluster, 'nowhere').plan(request('pricing-1'))).toEqual([
      expect.stringMatching(/^cannot apply ServiceAccount nowhere\/pricing-default, so the deploy would fail: namespace "nowhere" does not exist/),
      expect.stringMatching(/^cannot apply Deployment nowhere\/pricing-default/),
      expect.stringMatching(/^cannot apply Service nowhere\/pricing/),
    ]);
  });
});

describe('describing what an apply changes', () => {
  const deployment = (fields: { cpu: string; env: { name: string; value: string }[]; build: string }): KubernetesObject =>
    ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', labels: { 'refit.dev/build': fields.build }, resourceVersion: fields.build },
      spec: {
        template: {
          metadata: { annotations: { 'refit.dev/build-id': fields.build, 'refit.dev/metrics': `{"f1":${fields.build.length}}` } },
          spec: { containers: [{ name: 'model', image: 'img', env: fields.env, resources: { requests: { cpu: fields.cpu }, limits: { cpu: fields.cpu } } }] },
        },
      },
      status: { replicas: 1 },
    }) as KubernetesObject;

  it('names cpu and env_vars once each, ignores metadata the server keeps, and mentions the build record only when nothing else changed', () => {
    const live = deployment({ cpu: '2', env: [{ name: 'A', value: '1' }], build: 'b1' });
    const planned = deployment({
      cpu: '500m',
      env: [
        { name: 'A', value: '2' },
        { name: 'B', value: '3' },
      ],
      build: 'b2',
    });
    expect(describeChanges(fieldChanges(live, planned), planned)).toEqual(['cpu 2 → 500m', 'env_vars']);
    const recordOnly = deployment({ cpu: '2', env: [{ name: 'A', value: '1' }], build: 'b10' });
    expect(describeChanges(fieldChanges(live, recordOnly), recordOnly)).toEqual(['the recorded build, metrics or deployment_spec']);
  });
});
