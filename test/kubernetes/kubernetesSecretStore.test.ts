// The Kubernetes secret store against the real API server: Secrets Refit writes, Secrets a user made with
// kubectl, missing ones, and a git token kept as a Secret cloning the private test repository.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { cloneRepository } from '../../activities/git/cloneRepository.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesSecretStore.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { secretStoreFromEnvironment } from '../../activities/secrets/storeFromEnvironment.js';
import { deploymentTargetFromEnvironment } from '../../worker/dependencies.js';
import { ErrorTypes } from '../../shared/errors.js';
import { deleteNamespaces, testKubernetes, type TestKubernetes } from '../harness/kubernetes.js';

const namespace = 'refit-secrets';
const TOKEN = 'git-token-7d3e1f0a9b8c2d4e';

describe('the Kubernetes secret store', () => {
  let kubernetes: TestKubernetes;
  let core: CoreV1Api;
  let store: KubernetesSecretStore;

  /** A Secret made the way `kubectl create secret generic NAME --from-literal=KEY=VALUE` makes one. */
  const kubectlSecret = (name: string, data: Record<string, string>) =>
    core.createNamespacedSecret({
      namespace,
      body: { metadata: { name }, data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])) },
    });

  beforeAll(async () => {
    kubernetes = testKubernetes();
    core = kubernetes.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    store = new KubernetesSecretStore({ kubeConfig: kubernetes.kubeConfig, namespace });
  });

  afterAll(async () => {
    if (kubernetes) await deleteNamespaces(kubernetes.kubeConfig, [namespace]);
  });

  it("stores, reads, lists and deletes secrets as labelled Secrets, the seed's underscore names included", async () => {
    await store.set('token_secret_name', 's3cr3t-value');
    const secret = await core.readNamespacedSecret({ name: 'token-secret-name', namespace });
    expect(secret.metadata?.labels).toMatchObject({ 'refit.dev/secret': 'true', 'app.kubernetes.io/managed-by': 'refit' });
    expect(secret.metadata?.annotations).toMatchObject({ 'refit.dev/secret-name': 'token_secret_name' });
    expect(Buffer.from(secret.data!.value!, 'base64').toString()).toBe('s3cr3t-value');
    expect(await store.get('token_secret_name')).toBe('s3cr3t-value');
    await store.set('token_secret_name', 'rotated-value');
    expect(await store.get('token_secret_name')).toBe('rotated-value');
    expect(await store.list()).toEqual(['token_secret_name']);
    expect(await store.delete('token_secret_name')).toBe(true);
    expect(await store.delete('token_secret_name')).toBe(false);
    expect(await store.list()).toEqual([]);
  });

  it('reads a Secret made with kubectl (its only key), but neither lists, replaces nor deletes it', async () => {
    await kubectlSecret('webhook-url', { url: 'https://hooks.example.invalid/T000' });
    expect(await store.get('webhook-url')).toBe('https://hooks.example.invalid/T000');
    expect(await store.list()).toEqual([]);
    await expect(store.set('webhook-url', 'other')).rejects.toThrow(/was not made by Refit, so Refit does not replace it: change it with kubectl/);
    await expect(store.delete('webhook-url')).rejects.toThrow(/does not delete it/);
    expect(await store.get('webhook-url')).toBe('https://hooks.example.invalid/T000');

    await kubectlSecret('two-keys', { user: 'someone', password: 'not-shown-anywhere' });
    const error = await store.get('two-keys').catch((err: Error) => err);
    expect(error).toMatchObject({ type: ErrorTypes.SecretNotFound, message: expect.stringContaining('has keys password, user but none named "value"') });
    expect((error as Error).message).not.toContain('not-shown-anywhere');
  });

  it("keeps a secret's scope in its annotations, set with the value or on its own", async () => {
    await store.set('scoped_token', 'scoped-value', { hosts: ['github.com', 'ghe.corp:8443'], automations: ['churn-weekly'] });
    const secret = await core.readNamespacedSecret({ name: 'scoped-token', namespace });
    expect(secret.metadata?.annotations).toMatchObject({
      'refit.dev/secret-hosts': 'github.com,ghe.corp:8443',
      'refit.dev/secret-automations': 'churn-weekly',
    });
    expect(await store.read('scoped_token')).toEqual({
      value: 'scoped-value',
      scope: { hosts: ['github.com', 'ghe.corp:8443'], automations: ['churn-weekly'] },
    });
    // A new value keeps the scope; a new scope keeps the value.
    await store.set('scoped_token', 'rotated');
    expect((await store.read('scoped_token')).scope.hosts).toEqual(['github.com', 'ghe.corp:8443']);
    await store.setScope('scoped_token', { hosts: [], automations: ['fraud'] });
    expect(await store.read('scoped_token')).toEqual({ value: 'rotated', scope: { hosts: [], automations: ['fraud'] } });
    // A Secret made with kubectl has no scope until it is annotated (Refit does not change it).
    await kubectlSecret('plain-secret', { value: 'x' });
    expect(await store.scopeOf('plain-secret')).toEqual({ hosts: [], automations: [] });
    await expect(store.setScope('plain-secret', { hosts: ['a.example'], automations: [] })).rejects.toThrow(
      /was not made by Refit, so Refit does not scope it/,
    );
    await store.delete('scoped_token');
  });

  it('says how to create a missing secret', async () => {
    await expect(store.get('absent_token')).rejects.toMatchObject({
      type: ErrorTypes.SecretNotFound,
      message:
        'secret "absent_token" is not in the Kubernetes secret store (namespace refit-secrets): create it with `kubectl create secret generic absent-token --namespace refit-secrets --from-literal=value=...`',
    });
  });

  it('is what the worker uses with REFIT_SECRET_STORE=kubernetes, as the Kubernetes target is with REFIT_DEPLOY_TARGET=kubernetes', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'refit-wiring-'));
    const kubeconfigBefore = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubernetes.kubeconfigPath;
    try {
      expect((await secretStoreFromEnvironment(home, {})).description).toBe(`local secret store (${path.join(home, 'secrets')})`);
      const fromCluster = await secretStoreFromEnvironment(home, { REFIT_SECRET_STORE: 'kubernetes', REFIT_SECRETS_NAMESPACE: namespace });
      expect(fromCluster.description).toBe('Kubernetes secret store (namespace refit-secrets)');
      await store.set('wired_secret', 'from-the-cluster');
      expect((await fromCluster.read('wired_secret')).value).toBe('from-the-cluster');

      const options = { home, sdkPythonPath: '/nonexistent', secrets: fromCluster };
      expect((await deploymentTargetFromEnvironment(options, {})).name).toBe('local');
      expect((await deploymentTargetFromEnvironment(options, { REFIT_DEPLOY_TARGET: 'kubernetes', REFIT_IMAGE_REPOSITORY: 'ghcr.io/acme/models' })).name).toBe(
        'kubernetes',
      );
      await expect(deploymentTargetFromEnvironment(options, { REFIT_DEPLOY_TARGET: 'kubernetes' })).rejects.toThrow(/needs REFIT_IMAGE_REPOSITORY/);
      await expect(
        deploymentTargetFromEnvironment(options, { REFIT_DEPLOY_TARGET: 'kubernetes', REFIT_IMAGE_REPOSITORY: 'x', REFIT_KUBE_ENVIRONMENTS: 'clusters' }),
      ).rejects.toThrow('REFIT_KUBE_ENVIRONMENTS must be namespaces or contexts, not "clusters"');
    } finally {
      if (kubeconfigBefore === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = kubeconfigBefore;
      rmSync(home, { recursive: true, force: true });
    }
  });

  describe('with the private test repository', () => {
    let server: GitServer;
    let work: string;
    beforeAll(async () => {
      server = await startGitServer(TOKEN);
      work = mkdtempSync(path.join(os.tmpdir(), 'refit-k8s-clone-'));
      mkdirSync(path.join(work, 'source', 'main'), { recursive: true });
      writeFileSync(path.join(work, 'source', 'main', 'model.py'), 'print("a model")\n');
    });
    afterAll(async () => {
      await server?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('clones it with a git token stored as a Kubernetes Secret', async () => {
      const commit = await server.publish('private-model', path.join(work, 'source'));
      await kubectlSecret('git-token', { value: TOKEN });
      const destination = path.join(work, 'clone');
      const clone = () =>
        store.get('git-token').then((token) =>
          cloneRepository({
            repository: `${server.url}/private-model.git`,
            subdirectory: '',
            branch: 'main',
            token,
            tokenSecretName: 'git-token',
            destination,
          }),
        );
      const result = await clone();
      expect(result.commit).toBe(commit);
      expect(readFileSync(path.join(destination, 'main', 'model.py'), 'utf8')).toBe('print("a model")\n');
      expect(server.requests.some((request) => !request.authorized)).toBe(false);

      // The same clone with a wrong token in the Secret is refused by the server.
      await core.replaceNamespacedSecret({
        name: 'git-token',
        namespace,
        body: { metadata: { name: 'git-token' }, data: { value: Buffer.from('wrong').toString('base64') } },
      });
      await expect(clone()).rejects.toMatchObject({ type: ErrorTypes.GitAuthenticationFailed });
    });
  });
});
