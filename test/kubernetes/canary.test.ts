// Canary rollouts on the Kubernetes target, against the run's cluster and its real node: the target's methods are called in
// the order the BuildDeploy workflow calls them (startCanary at the first step, setCanaryWeight per further
// step, abortCanary when the guard fails, promoteCanary after the last step). Evaluating the guard is the
// workflow's job: here the test decides. Every call goes through a new target object, as after a worker
// restart: what a rollout needs to go on is in the cluster, not in the process.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, type KubernetesObject } from '@kubernetes/client-node';
import type { CanaryTarget } from '../../shared/deployment.js';
import { Cluster } from '../../activities/deploy/kubernetes/cluster.js';
import { ErrorTypes } from '../../shared/errors.js';
import * as fixtures from './targetFixture.js';
import { deployRequest, IMAGES, settledObjects, spec, useTargetCluster } from './targetFixture.js';

const namespace = 'canaries';
const gateway = { name: 'public', namespace: 'gateways' };

interface Route extends KubernetesObject {
  spec: { rules: { matches?: { headers?: { value: string }[] }[]; backendRefs: { name: string; weight?: number }[] }[] };
}

describe('canary rollouts on the Kubernetes target', () => {
  const cluster = useTargetCluster();
  const target = () => fixtures.targetIn(cluster, namespace, { gateway });
  const request = (buildId: string, fields: Record<string, unknown> = {}) => deployRequest('scorer', buildId, spec({ number_of_pods: 1, ...fields }));
  const canaryOf = (buildId: string): CanaryTarget => ({ modelId: 'scorer', environment: '', variation: 'default', buildId });
  const absent = (kind: string, apiVersion: string, name: string) =>
    expect(cluster.objects.read({ apiVersion, kind, metadata: { name, namespace } })).rejects.toMatchObject({ code: 404 });
  const deployment = (name: string) => cluster.apps.readNamespacedDeployment({ name, namespace });
  const route = () => cluster.objects.read<Route>({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'scorer', namespace } });
  /** The route's weighted rule as backend -> percent of the traffic it gets, and the header rule's backends. */
  const weights = async () => {
    const rules = (await route()).spec.rules;
    const weighted = rules.find((rule) => !rule.matches?.some((match) => match.headers?.length))!;
    const total = weighted.backendRefs.reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
    const header = rules.find((rule) => rule.matches?.some((match) => match.headers?.some((entry) => entry.value === 'default')))!;
    return {
      raw: weighted.backendRefs.map((ref) => [ref.name, ref.weight]),
      percent: Object.fromEntries(weighted.backendRefs.map((ref) => [ref.name, ((ref.weight ?? 1) / total) * 100])),
      header: header.backendRefs.map((ref) => [ref.name, ref.weight]),
    };
  };
  const canaryObjectsGone = async () => {
    await absent('Deployment', 'apps/v1', 'scorer-default-canary');
    await absent('Service', 'v1', 'scorer-default-canary');
    await absent('ServiceAccount', 'v1', 'scorer-default-canary');
  };

  beforeAll(async () => {
    await fixtures.createNamespace(cluster, namespace);
  });

  it('deploys the first build of a variation directly: no previous build, so the rollout counts as promoted', async () => {
    const result = await target().startCanary(request('scorer-1'), 10);
    expect(result).toMatchObject({ buildId: 'scorer-1', previousBuildId: undefined, changed: true });
    expect(result.notes).toContain('no build served this variation before, so the canary took all traffic at once');
    expect((await deployment('scorer-default')).spec?.template.spec?.containers[0]?.image).toBe(`${IMAGES}/scorer:scorer-1`);
    await canaryObjectsGone();
    expect((await target().status('scorer', ''))?.variations.default?.buildId).toBe('scorer-1');
  });

  it('rolls back when the guard fails at 50%: 90/10, then 50/50, then 100/0 with the canary backend gone', async () => {
    const stableBefore = await deployment('scorer-default');
    const started = await target().startCanary(request('scorer-2'), 10);
    expect(started).toMatchObject({ buildId: 'scorer-2', previousBuildId: 'scorer-1', changed: true, notes: [] });

    expect((await weights()).raw).toEqual([
      ['scorer-default', 90],
      ['scorer-default-canary', 10],
    ]);
    expect((await weights()).header).toEqual([
      ['scorer-default', 90],
      ['scorer-default-canary', 10],
    ]);
    const canary = await deployment('scorer-default-canary');
    expect(canary.status?.readyReplicas).toBe(1);
    expect(canary.spec?.template.spec?.containers[0]?.image).toBe(`${IMAGES}/scorer:scorer-2`);
    // The canary's pods are reached through its own Service only: the model's and the variation's Services do not select them.
    const canaryPods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'refit.dev/build=scorer-2' });
    expect(canaryPods.items).toHaveLength(1);
    for (const name of ['scorer', 'scorer-default']) {
      const selector = (await cluster.core.readNamespacedService({ name, namespace })).spec!.selector!;
      expect(Object.entries(selector).every(([key, value]) => canaryPods.items[0]!.metadata!.labels![key] === value)).toBe(false);
    }
    const canaryService = await cluster.core.readNamespacedService({ name: 'scorer-default-canary', namespace });
    expect(Object.entries(canaryService.spec!.selector!).every(([key, value]) => canaryPods.items[0]!.metadata!.labels![key] === value)).toBe(true);
    // The variation's own build is untouched, and is what status() reports.
    expect((await deployment('scorer-default')).metadata?.generation).toBe(stableBefore.metadata?.generation);
    expect((await target().status('scorer', ''))?.variations.default?.buildId).toBe('scorer-1');

    await target().setCanaryWeight(canaryOf('scorer-2'), 50);
    expect((await weights()).raw).toEqual([
      ['scorer-default', 50],
      ['scorer-default-canary', 50],
    ]);
    expect((await deployment('scorer-default-canary')).metadata?.generation).toBe(canary.metadata?.generation);

    // The guard fails at 50%.
    await target().abortCanary(canaryOf('scorer-2'));
    const after = await weights();
    expect(after.raw).toEqual([['scorer-default', 1]]);
    expect(after.percent).toEqual({ 'scorer-default': 100 });
    expect(after.header.map(([name]) => name)).toEqual(['scorer-default']);
    await canaryObjectsGone();
    const stableAfter = await deployment('scorer-default');
    expect(stableAfter.spec?.template).toEqual(stableBefore.spec?.template);
    expect(stableAfter.metadata?.generation).toBe(stableBefore.metadata?.generation);

    // Aborting again changes nothing.
    const settled = await settledObjects(cluster, namespace);
    await target().abortCanary(canaryOf('scorer-2'));
    expect(await settledObjects(cluster, namespace)).toEqual(settled);
  });

  it('promotes a canary whose guard holds at every step, once, and a repeat changes nothing', async () => {
    await target().startCanary(request('scorer-3', { cpu_fraction: 0.5 }), 10);
    expect((await weights()).percent).toEqual({ 'scorer-default': 90, 'scorer-default-canary': 10 });
    await target().setCanaryWeight(canaryOf('scorer-3'), 50);
    expect((await weights()).percent).toEqual({ 'scorer-default': 50, 'scorer-default-canary': 50 });
    await target().setCanaryWeight(canaryOf('scorer-3'), 100);
    expect((await weights()).raw).toEqual([
      ['scorer-default', 0],
      ['scorer-default-canary', 100],
    ]);
    const canaryTemplate = (await deployment('scorer-default-canary')).spec!.template;

    const promoted = await target().promoteCanary(canaryOf('scorer-3'));
    expect(promoted).toMatchObject({ buildId: 'scorer-3', previousBuildId: 'scorer-1', changed: true });
    const stable = await deployment('scorer-default');
    // The variation's Deployment runs the canary's pod template, but with its own labels and service account.
    expect(stable.spec?.template.spec?.containers).toEqual(canaryTemplate.spec?.containers);
    expect(stable.spec?.template.metadata?.annotations).toEqual(canaryTemplate.metadata?.annotations);
    expect(stable.spec?.template.spec?.containers[0]?.resources?.requests).toEqual({ cpu: '500m', memory: '128Mi' });
    expect(stable.spec?.template.metadata?.labels).toMatchObject({
      'refit.dev/model': 'scorer',
      'refit.dev/variation': 'default',
      'refit.dev/build': 'scorer-3',
    });
    expect(stable.spec?.template.spec?.serviceAccountName).toBe('scorer-default');
    expect(stable.status).toMatchObject({ updatedReplicas: 1, availableReplicas: 1 });
    await canaryObjectsGone();
    expect((await weights()).raw).toEqual([['scorer-default', 1]]);
    expect((await target().status('scorer', ''))?.variations.default).toMatchObject({ buildId: 'scorer-3', previousBuildIds: ['scorer-1'] });

    const settled = await settledObjects(cluster, namespace);
    const again = await target().promoteCanary(canaryOf('scorer-3'));
    expect(again).toMatchObject({ buildId: 'scorer-3', previousBuildId: 'scorer-1', changed: false });
    expect(await settledObjects(cluster, namespace)).toEqual(settled);
    // A plain deploy afterwards keeps the route (clients may come through the Gateway), routing all to the variation.
    await target().apply(request('scorer-3', { cpu_fraction: 0.5 }));
    expect((await weights()).raw).toEqual([['scorer-default', 1]]);
  });

  it("removes a canary that does not become ready in time and fails, the variation's build untouched", async () => {
    const stableBefore = await deployment('scorer-default');
    const routeBefore = await route();
    // Nothing pushed the build's image.
    cluster.missingImages.add('scorer-4');
    await expect(target().startCanary(request('scorer-4', { deployment_process_timeout_limit: 6 }), 10)).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^the canary of build scorer-4 of scorer did not start in namespace "canaries" \(build scorer-3 keeps serving variation "default"; its objects were removed\): the rollout did not finish in time .*pods of build scorer-4: 1 pod waiting: (ErrImagePull|ImagePullBackOff)/,
      ),
    });
    await canaryObjectsGone();
    expect((await deployment('scorer-default')).metadata?.generation).toBe(stableBefore.metadata?.generation);
    expect((await route()).metadata?.resourceVersion).toBe(routeBefore.metadata?.resourceVersion);
    await expect(target().setCanaryWeight(canaryOf('scorer-4'), 50)).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: 'build scorer-4 is not the canary of variation "default" of scorer in namespace "canaries" (it has no canary)',
    });
  });

  it("puts the variation's build back and removes the canary when the promoted build does not roll out in time", async () => {
    // The canary's pods become ready; the same build's pods in the variation's Deployment (named scorer-default-<hash>-<id>,
    // where the canary's are scorer-default-canary-...) never do.
    const neverReadyOutsideTheCanary = { deployment_process_timeout_limit: 10, env_vars: ['NEVER_READY_PODS=^scorer-default-(?!canary-)'] };
    await target().startCanary(request('scorer-6', neverReadyOutsideTheCanary), 100);
    await expect(target().promoteCanary(canaryOf('scorer-6'))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^the canary of build scorer-6 was not promoted: build scorer-6 of scorer was not deployed to namespace "canaries" \(rolled back: build scorer-3 serves variation "default" again\): the rollout did not finish in time .*running but not ready.*; the canary was removed as well$/,
      ),
    });
    await canaryObjectsGone();
    expect((await weights()).raw).toEqual([['scorer-default', 1]]);
    expect((await deployment('scorer-default')).spec?.template.spec?.containers[0]?.image).toBe(`${IMAGES}/scorer:scorer-3`);
    expect((await target().status('scorer', ''))?.variations.default?.buildId).toBe('scorer-3');
  });

  it("splits only the canary's variation's share when the model has A/B variations, and keeps it through a deploy of the other", async () => {
    const ab = (buildId: string, variation_name: string) => deployRequest('ranker', buildId, spec({ number_of_pods: 1, variation_name }));
    await target().apply(ab('ranker-a1', 'A'));
    await target().apply(ab('ranker-b1', 'B'));
    await target().startCanary(ab('ranker-b2', 'B'), 10);
    const read = async () => {
      const rules = (
        await cluster.objects.read<Route>({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'ranker', namespace } })
      ).spec.rules;
      return rules.map((rule) => rule.backendRefs.map((ref) => `${ref.name}:${ref.weight}`).join(' '));
    };
    const split = ['ranker-a:1', 'ranker-b:90 ranker-b-canary:10', 'ranker-a:100 ranker-b:90 ranker-b-canary:10'];
    expect(await read()).toEqual(split);
    await target().apply(ab('ranker-a2', 'A'));
    expect(await read()).toEqual(split);
    await target().abortCanary({ modelId: 'ranker', environment: '', variation: 'B', buildId: 'ranker-b2' });
    expect(await read()).toEqual(['ranker-a:1', 'ranker-b:1', 'ranker-a:1 ranker-b:1']);
  });

  it('refuses to start a canary without the Gateway API, saying it is needed, before changing anything', async () => {
    await cluster.kubernetes.kubeConfig.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'httproutes.gateway.networking.k8s.io' });
    const discovery = new Cluster(cluster.kubernetes.kubeConfig, namespace, 'refit', `namespace "${namespace}"`);
    const deadline = Date.now() + 30_000;
    while ((await discovery.features()).gatewayApi) {
      if (Date.now() > deadline) throw new Error('the API server still serves httproutes 30 s after their CRD was deleted');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const before = await deployment('scorer-default');
    await expect(target().startCanary(request('scorer-5'), 10)).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(/^canary rollouts on Kubernetes need the Gateway API, and namespace "canaries" has no HTTPRoute resource/),
    });
    await absent('Deployment', 'apps/v1', 'scorer-default-canary');
    expect((await deployment('scorer-default')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });
});
