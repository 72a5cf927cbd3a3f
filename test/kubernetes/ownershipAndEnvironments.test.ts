// What the Kubernetes target refuses to touch (objects GitOps tracks, fields another manager owns), where
// environments go (namespaces, or kubeconfig contexts), and secrets referenced from env_vars.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import type { DeploymentSpec } from '../../shared/deployment.js';
import { ErrorTypes } from '../../shared/errors.js';
import * as fixtures from './targetFixture.js';
import { deployRequest as request, useTargetCluster } from './targetFixture.js';

describe('the Kubernetes target and what it may touch', () => {
  const cluster = useTargetCluster();
  const applyAs = (manager: string, object: KubernetesObject) => fixtures.applyAs(cluster, manager, object);
  const createNamespace = (name: string) => fixtures.createNamespace(cluster, name);
  const targetIn = (namespace: string) => fixtures.targetIn(cluster, namespace);
  const spec = (fields: Record<string, unknown> = {}): DeploymentSpec => fixtures.spec({ number_of_pods: 1, ...fields });
  const absent = (promise: Promise<unknown>) => expect(promise).rejects.toMatchObject({ code: 404 });

  it('reports an object Argo CD tracks as a conflict, and leaves it and everything else untouched', async () => {
    await createNamespace('gitops');
    const tracked = await applyAs('argocd-controller', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'orders-default',
        namespace: 'gitops',
        labels: { 'app.kubernetes.io/instance': 'orders' },
        annotations: { 'argocd.argoproj.io/tracking-id': 'orders:apps/Deployment:gitops/orders-default' },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'orders' } },
        template: { metadata: { labels: { app: 'orders' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/orders:v7' }] } },
      },
    } as KubernetesObject);
    await expect(targetIn('gitops').apply(request('orders', 'orders-1', spec()))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^Deployment gitops\/orders-default is managed by Argo CD \(annotation argocd\.argoproj\.io\/tracking-id=orders:apps\/Deployment:gitops\/orders-default\), so Refit left it untouched\..*`refit describe --manifests <definitions>`/,
      ),
    });
    // Its status moves with the deployment controller; its spec and owners do not.
    const after = await cluster.apps.readNamespacedDeployment({ name: 'orders-default', namespace: 'gitops' });
    expect(after.metadata?.generation).toBe(tracked.metadata?.generation);
    expect(after.metadata?.managedFields?.map((entry) => entry.manager)).not.toContain('refit');
    await absent(cluster.core.readNamespacedServiceAccount({ name: 'orders-default', namespace: 'gitops' }));
    await absent(cluster.core.readNamespacedService({ name: 'orders', namespace: 'gitops' }));
  });

  it('reports a Flux-tracked Service the same way', async () => {
    await applyAs('kustomize-controller', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'billing',
        namespace: 'gitops',
        labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
      },
      spec: { selector: { app: 'billing' }, ports: [{ port: 80 }] },
    } as KubernetesObject);
    await expect(targetIn('gitops').apply(request('billing', 'billing-1', spec()))).rejects.toThrow(
      /^Service gitops\/billing is managed by Flux \(kustomize\.toolkit\.fluxcd\.io\/name=apps, namespace flux-system\), so Refit left it untouched/,
    );
    await absent(cluster.apps.readNamespacedDeployment({ name: 'billing-default', namespace: 'gitops' }));
  });

  it('never forces over a field another manager changed: the conflict names the manager and the field', async () => {
    await createNamespace('conflicts');
    const target = targetIn('conflicts');
    await target.apply(request('pricing', 'pricing-1', spec()));
    // Someone scales the Deployment by hand (`kubectl edit` / `kubectl scale`).
    await cluster.apps.patchNamespacedDeployment(
      { name: 'pricing-default', namespace: 'conflicts', fieldManager: 'kubectl-edit', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const edited = await cluster.apps.readNamespacedDeployment({ name: 'pricing-default', namespace: 'conflicts' });
    await expect(target.apply(request('pricing', 'pricing-2', spec()))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: expect.stringMatching(
        /^Deployment conflicts\/pricing-default is managed by field manager "kubectl-edit" \(its fields \.spec\.replicas would change\), so Refit left it untouched/,
      ),
    });
    const after = await cluster.apps.readNamespacedDeployment({ name: 'pricing-default', namespace: 'conflicts' });
    expect(after.metadata?.generation).toBe(edited.metadata?.generation);
    expect(after.spec?.template.metadata?.labels?.['refit.dev/build']).toBe('pricing-1');
  });

  it('deploys each environment to the namespace of that name, and says when one is missing', async () => {
    await createNamespace('staging');
    await createNamespace('prod');
    const target = targetIn('default');
    const environments = spec({ environments: ['staging', 'prod'] });
    for (const environment of environments.environments) {
      const result = await target.apply(request('churn', 'churn-1', environments, environment));
      expect(result).toMatchObject({ environment, url: `http://churn.${environment}.svc.cluster.local` });
    }
    for (const namespace of ['staging', 'prod']) {
      const deployment = await cluster.apps.readNamespacedDeployment({ name: 'churn-default', namespace });
      expect(deployment.spec?.template.metadata?.labels?.['refit.dev/build']).toBe('churn-1');
    }
    await absent(cluster.apps.readNamespacedDeployment({ name: 'churn-default', namespace: 'default' }));
    await expect(target.apply(request('churn', 'churn-1', spec({ environments: ['qa'] }), 'qa'))).rejects.toMatchObject({
      type: ErrorTypes.DeploymentFailed,
      message: 'namespace "qa" does not exist: create it (`kubectl create namespace qa`) or deploy to another environment',
    });
    await expect(target.apply(request('churn', 'churn-1', spec({ environments: ['eu_west'] }), 'eu_west'))).rejects.toThrow(
      /environment "eu_west" cannot be a Kubernetes namespace/,
    );
  });

  it('maps environments to kubeconfig contexts when told to', async () => {
    await createNamespace('east-models');
    const base = cluster.kubernetes.kubeConfig;
    const kubeConfig = new KubeConfig();
    const context = (name: string, namespace?: string) => ({ name, cluster: base.getCurrentCluster()!.name, user: base.getCurrentUser()!.name, namespace });
    kubeConfig.loadFromOptions({
      clusters: base.getClusters(),
      users: base.getUsers(),
      contexts: [context('east', 'east-models'), context('home')],
      currentContext: 'home',
    });
    const target = fixtures.targetIn(cluster, 'default', { kubeConfig, environments: 'contexts' });
    await target.apply(request('geo', 'geo-1', spec({ environments: ['east'] }), 'east'));
    expect((await cluster.apps.readNamespacedDeployment({ name: 'geo-default', namespace: 'east-models' })).metadata?.labels?.['refit.dev/model']).toBe('geo');
    expect((await target.status('geo', 'east'))?.variations.default?.buildId).toBe('geo-1');
    await expect(target.apply(request('geo', 'geo-1', spec({ environments: ['west'] }), 'west'))).rejects.toThrow(
      'environment "west" has no context of that name in the kubeconfig (contexts: east, home): add one, or set REFIT_KUBE_ENVIRONMENTS=namespaces',
    );
  });

  it('refers to secrets in env_vars through secretKeyRefs, and says how to create a missing one', async () => {
    await createNamespace('secrets');
    const withSecret = spec({ env_vars: ['SCORING_API_TOKEN=secret:scoring_api_token', 'MODE=fast'] });
    const target = targetIn('secrets');
    await expect(target.apply(request('scorer', 'scorer-1', withSecret))).rejects.toMatchObject({
      type: ErrorTypes.SecretNotFound,
      message:
        'env_vars refer to secret "scoring_api_token", and namespace "secrets" has no Secret "scoring-api-token": ' +
        'create it with `kubectl create secret generic scoring-api-token --namespace secrets --from-literal=value=...`',
    });
    await absent(cluster.apps.readNamespacedDeployment({ name: 'scorer-default', namespace: 'secrets' }));
    await cluster.core.createNamespacedSecret({
      namespace: 'secrets',
      body: { metadata: { name: 'scoring-api-token' }, data: { token: Buffer.from('value-never-copied').toString('base64') } },
    });
    // A Secret no one scoped is given to no model server: any automation could otherwise read any Secret.
    await expect(target.apply(request('scorer', 'scorer-1', withSecret))).rejects.toMatchObject({
      type: ErrorTypes.SecretOutOfScope,
      message: expect.stringContaining('kubectl annotate secret scoring-api-token --namespace secrets refit.dev/secret-automations=retrain-scorer'),
    });
    await absent(cluster.apps.readNamespacedDeployment({ name: 'scorer-default', namespace: 'secrets' }));
    await cluster.core.patchNamespacedSecret(
      { name: 'scoring-api-token', namespace: 'secrets', body: { metadata: { annotations: { 'refit.dev/secret-automations': 'someone-else' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await expect(target.apply(request('scorer', 'scorer-1', withSecret))).rejects.toMatchObject({
      type: ErrorTypes.SecretOutOfScope,
      message: expect.stringContaining('may be used by someone-else only'),
    });
    await cluster.core.patchNamespacedSecret(
      { name: 'scoring-api-token', namespace: 'secrets', body: { metadata: { annotations: { 'refit.dev/secret-automations': 'retrain-scorer' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await target.apply(request('scorer', 'scorer-1', withSecret));
    const deployment = await cluster.apps.readNamespacedDeployment({ name: 'scorer-default', namespace: 'secrets' });
    const env = deployment.spec!.template.spec!.containers[0]!.env;
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'SCORING_API_TOKEN', valueFrom: { secretKeyRef: { name: 'scoring-api-token', key: 'token' } } },
        { name: 'MODE', value: 'fast' },
      ]),
    );
    expect(JSON.stringify(deployment)).not.toContain('value-never-copied');
  });
});
