// The run's local cluster behaves like a real one: the API server, controllers and CRDs the Kubernetes target
// talks to, and a node whose kubelet runs pods from the loopback registry on a network that keeps them on this
// machine. Also the control plane alone, which is what a machine that cannot run a node gets.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { startLocalCluster } from '../../devstack/kubernetes/localCluster.js';
import type { HostRecord } from '../../devstack/kubernetes/hostRecord.js';
import { nodeLeftovers, tearDownNode } from '../../devstack/kubernetes/nodeTeardown.js';
import { testNode, useNodeLease } from '../harness/kubernetes.js';

const namespace = 'refit-test';
const fieldManager = 'refit';

function modelDeployment(name: string, replicas: number, image: string): V1Deployment {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'model',
              image,
              command: ['python', '-m', 'http.server', '8080'],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1 },
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '50m', memory: '64Mi' } },
            },
          ],
        },
      },
    },
  };
}
/** Polls `read` until it returns something, or fails naming what it waited for. */
async function eventually<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What `kubectl rollout status` calls a finished rollout. */
function rolledOut(deployment: V1Deployment): boolean {
  const status = deployment.status ?? {};
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  return (
    (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    progressing?.reason !== 'ProgressDeadlineExceeded' &&
    (status.updatedReplicas ?? 0) === (deployment.spec?.replicas ?? 1) &&
    (status.replicas ?? 0) === (status.updatedReplicas ?? 0) &&
    (status.availableReplicas ?? 0) === (status.updatedReplicas ?? 0)
  );
}

describe("the test run's Kubernetes cluster", () => {
  let kubernetes: ReturnType<typeof testNode>;
  let objects: KubernetesObjectApi;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  const apply = <T extends KubernetesObject>(object: T): Promise<T> =>
    objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  useNodeLease(() => [namespace]);
  beforeAll(async () => {
    kubernetes = testNode();
    objects = KubernetesObjectApi.makeApiClient(kubernetes.kubeConfig);
    apps = kubernetes.kubeConfig.makeApiClient(AppsV1Api);
    core = kubernetes.kubeConfig.makeApiClient(CoreV1Api);
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  });

  it('is a real kube-apiserver v1.35.4, reached through the kubeconfig file too', async () => {
    const fromFile = new KubeConfig();
    fromFile.loadFromFile(kubernetes.kubeconfigPath);
    expect(fromFile.getCurrentCluster()?.server).toBe(kubernetes.server);
    expect(kubernetes.kubeconfig).toBe(kubernetes.kubeconfigPath);
    const version = await fromFile.makeApiClient(VersionApi).getCode();
    expect(version).toMatchObject({ gitVersion: 'v1.35.4', major: '1', minor: '35' });
  });

  it('gives a Deployment applied server-side a ReplicaSet from the controller-manager', async () => {
    const applied = await apply(modelDeployment('churn-model', 1, kubernetes.images.runtime!));
    expect(applied.metadata?.managedFields?.map((entry) => [entry.manager, entry.operation])).toContainEqual([fieldManager, 'Apply']);
    const replicaSet = await eventually('a ReplicaSet owned by the Deployment', async () => {
      const { items } = await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app.kubernetes.io/name=churn-model' });
      return items.find((item) => item.metadata?.ownerReferences?.some((owner) => owner.uid === applied.metadata?.uid && owner.controller));
    });
    expect(replicaSet.spec?.replicas).toBe(1);
    expect(replicaSet.spec?.template?.spec?.containers[0]?.image).toBe(kubernetes.images.runtime);
  });

  it('accepts a KEDA ScaledObject and a Gateway API HTTPRoute, validated and defaulted by their CRDs', async () => {
    await apply({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'churn-model', namespace },
      spec: {
        scaleTargetRef: { name: 'churn-model' },
        minReplicaCount: 1,
        maxReplicaCount: 5,
        triggers: [
          { type: 'prometheus', metadata: { serverAddress: 'http://prometheus.monitoring.svc:9090', query: 'sum(rate(requests_total[1m]))', threshold: '50' } },
        ],
      },
    } as KubernetesObject);
    const scaledObject = await objects.read<KubernetesObject & { spec?: any }>({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'churn-model', namespace },
    });
    expect(scaledObject.spec).toMatchObject({ scaleTargetRef: { name: 'churn-model' }, maxReplicaCount: 5, triggers: [{ type: 'prometheus' }] });

    const route = (weights: [number, number], port = 80) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'churn-model', namespace },
      spec: {
        parentRefs: [{ name: 'refit-gateway' }],
        hostnames: ['churn.example.com'],
        rules: [
          {
            backendRefs: [
              { name: 'churn-model-a', port, weight: weights[0] },
              { name: 'churn-model-b', port, weight: weights[1] },
            ],
          },
        ],
      },
    });
    await apply(route([90, 10]) as KubernetesObject);
    const stored = await objects.read<KubernetesObject & { spec?: any }>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'churn-model', namespace },
    });
    expect(stored.spec.rules[0].backendRefs.map((ref: { name: string; weight: number }) => [ref.name, ref.weight])).toEqual([
      ['churn-model-a', 90],
      ['churn-model-b', 10],
    ]);
    // Filled in by the CRD's schema defaults, so the real schema is in force.
    expect(stored.spec.rules[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
    await expect(apply(route([90, 10], 70_000) as KubernetesObject)).rejects.toThrow(/HTTP-Code: 422[\s\S]*backendRefs\[0\]\.port/);
  });

  it('runs a Deployment on its node: pods pulled from the loopback registry, ready, answering through their Service', async () => {
    const name = 'rollout-model';
    const labelSelector = `app.kubernetes.io/name=${name}`;
    const node = await core.readNode({ name: kubernetes.node.name });
    expect(node.status?.nodeInfo).toMatchObject({ kubeletVersion: 'v1.35.4', containerRuntimeVersion: 'containerd://2.4.2' });
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: kubernetes.node.address });
    await apply(modelDeployment(name, 2, kubernetes.images.runtime!));
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ port: 80, targetPort: 'http' }] },
    });
    const deployment = await eventually('the Deployment to be rolled out', async () => {
      const current = await apps.readNamespacedDeployment({ name, namespace });
      return rolledOut(current) ? current : undefined;
    });
    expect(deployment.status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    const conditions = Object.fromEntries((deployment.status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));
    expect(conditions).toMatchObject({ Available: ['True', 'MinimumReplicasAvailable'], Progressing: ['True', 'NewReplicaSetAvailable'] });
    const { items: pods } = await core.listNamespacedPod({ namespace, labelSelector });
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(kubernetes.node.name);
      expect(pod.status?.podIP).toMatch(new RegExp(`^${kubernetes.node.podCidr.split('.').slice(0, 3).join('\\.')}\\.`));
      expect(pod.status?.containerStatuses?.[0]?.imageID).toMatch(/@sha256:[0-9a-f]{64}$/);
    }
    const service = await core.readNamespacedService({ name, namespace });
    const page = await eventually('the Service to answer', () =>
      fetch(`http://${service.spec!.clusterIP}/`, { signal: AbortSignal.timeout(3000) }).then(
        (response) => (response.ok ? response.text() : undefined),
        () => undefined,
      ),
    );
    expect(page).toContain('Directory listing');
    // The API server reaches the kubelet: a pod's log, as `kubectl logs` reads it.
    expect(await core.readNamespacedPodLog({ name: pods[0]!.metadata!.name!, namespace })).toMatch(/GET \/ HTTP\/1\.1" 200/);
  });

  it("lets a pod reach the API server as kubernetes.default with its service account's token, as in a cluster", async () => {
    const script = [
      'import json, os, ssl, urllib.request',
      'base = "/var/run/secrets/kubernetes.io/serviceaccount"',
      'token = open(base + "/token").read()',
      'context = ssl.create_default_context(cafile=base + "/ca.crt")',
      'def get(host, path):',
      '    request = urllib.request.Request(f"https://{host}{path}", headers={"Authorization": "Bearer " + token})',
      '    try:',
      '        return json.load(urllib.request.urlopen(request, context=context, timeout=10))',
      '    except urllib.error.HTTPError as error:',
      '        return {"status": error.code}',
      'service = os.environ["KUBERNETES_SERVICE_HOST"] + ":" + os.environ["KUBERNETES_SERVICE_PORT"]',
      'print(json.dumps({"version": get(service, "/version").get("gitVersion"), "pods": get(service, "/api/v1/namespaces/kube-system/pods")}))',
    ].join('\n');
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'api-probe', namespace },
        spec: { restartPolicy: 'Never', containers: [{ name: 'probe', image: kubernetes.images.runtime!, command: ['python3', '-c', script] }] },
      },
    });
    await eventually('the API probe pod to finish', async () => {
      const phase = (await core.readNamespacedPod({ name: 'api-probe', namespace })).status?.phase;
      return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
    });
    const log = (await core.readNamespacedPodLog({ name: 'api-probe', namespace })).trim();
    const result = JSON.parse(log.split('\n').at(-1)!) as { version: string; pods: { status?: number } };
    expect(result.version).toBe('v1.35.4');
    // Authenticated as the namespace's default service account, which RBAC gives nothing.
    expect(result.pods).toEqual({ status: 403 });
  });

  it('keeps pods to the bridge: no other machine, no server of this one but the registry, only Services and each other', async () => {
    // A server of this machine on all interfaces, which a pod must not reach through the node's address.
    const server = createServer((_, response) => response.end('reached')).listen(0, '0.0.0.0');
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const rollout = await core.readNamespacedService({ name: 'rollout-model', namespace });
      const outside = Object.values(os.networkInterfaces())
        .flat()
        .find((entry) => entry && entry.family === 'IPv4' && !entry.internal && entry.address !== kubernetes.node.address)?.address;
      const targets = {
        service: [rollout.spec!.clusterIP!, 80],
        node: [kubernetes.node.address, port],
        // Opened for build pods, which push their images there.
        registry: [kubernetes.registry.split(':')[0], Number(kubernetes.registry.split(':')[1])],
        thisMachine: [outside ?? '192.0.2.1', port],
        internet: ['1.1.1.1', 443],
      };
      const script = [
        'import json, socket',
        `targets = ${JSON.stringify(targets)}`,
        'results = {}',
        'for name, (host, port) in targets.items():',
        '    s = socket.socket(); s.settimeout(3)',
        '    try:',
        '        s.connect((host, port)); results[name] = "connected"',
        '    except OSError as error:',
        '        results[name] = type(error).__name__ + ": " + str(error)',
        'print(json.dumps(results))',
      ].join('\n');
      const pod: V1Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'network-probe', namespace },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          containers: [{ name: 'probe', image: kubernetes.images.runtime!, command: ['python', '-c', script] }],
        },
      };
      await core.createNamespacedPod({ namespace, body: pod });
      await eventually('the probe pod to finish', async () => {
        const phase = (await core.readNamespacedPod({ name: 'network-probe', namespace })).status?.phase;
        return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
      });
      const results = JSON.parse((await core.readNamespacedPodLog({ name: 'network-probe', namespace })).trim()) as Record<string, string>;
      expect(results.service).toBe('connected');
      expect(results.node).toMatch(/^ConnectionRefusedError/);
      expect(results.registry).toBe('connected');
      expect(kubernetes.registry.split(':')[0]).toBe(kubernetes.node.address);
      expect(results.thisMachine).toMatch(/unreachable/i);
      expect(results.internet).toMatch(/unreachable/i);
    } finally {
      server.close();
    }
  });
});

describe('the control plane alone (a machine that cannot run a node)', () => {
  it('serves the API and the CRDs without a kubelet, needing no lock, no root and no change to the machine', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-control-plane-'));
    const cluster = await startLocalCluster({ dir, removeDir: true, node: false, purpose: 'the control-plane-only test' });
    try {
      expect([cluster.nodeUnavailable, cluster.registry, cluster.node, cluster.images]).toEqual([undefined, undefined, undefined, {}]);
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(cluster.kubeconfig);
      expect(await kubeConfig.makeApiClient(VersionApi).getCode()).toMatchObject({ gitVersion: 'v1.35.4' });
      const { items: nodes } = await kubeConfig.makeApiClient(CoreV1Api).listNode();
      expect(nodes).toEqual([]);
      const crds = await KubernetesObjectApi.makeApiClient(kubeConfig).list('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
      expect(crds.items.map((crd) => crd.metadata?.name)).toEqual(expect.arrayContaining(['scaledobjects.keda.sh', 'httproutes.gateway.networking.k8s.io']));
    } finally {
      expect(await cluster.stop()).toEqual([]);
    }
    expect(() => mkdtempSync(path.join(dir, 'x'))).toThrow(/ENOENT/);
  }, 180_000);
});

// The teardown a stop, or the next start after a killed owner, runs from the host record: here on a record of
// made-up changes of each kind, so that it runs beside the run's node without touching it (no kubelet, no guard
// chains: their names are the node's).
describe("the node's teardown", () => {
  it('undoes every kind of change a record lists: processes in its cgroups, mounts, the bridge, sysctls, created paths', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-teardown-'));
    const created = path.join(dir, 'created-by-the-node');
    mkdirSync(created);
    const mountPoint = path.join(dir, 'state', 'rootfs');
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]);
    const bridge = 'refit-td0';
    execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
    const sysctl = '/proc/sys/net/ipv4/conf/all/log_martians';
    const before = readFileSync(sysctl, 'utf8').trim();
    writeFileSync(sysctl, before === '0' ? '1' : '0');
    const cgroupRoot = `/refit-teardown-test-${process.pid}`;
    const cgroup = path.join('/sys/fs/cgroup/pids', cgroupRoot, 'pod');
    mkdirSync(cgroup, { recursive: true });
    const stray = spawn('sleep', ['600'], { stdio: 'ignore' });
    writeFileSync(path.join(cgroup, 'cgroup.procs'), String(stray.pid));
    const exited = new Promise((resolve) => stray.once('exit', resolve));
    const record: HostRecord = {
      owner: { pid: 1, startTime: '0', purpose: 'the teardown test' },
      dir,
      removeDir: true,
      sysctls: { 'net.ipv4.conf.all.log_martians': before },
      createdPaths: [created],
      bridge,
      cgroupRoot,
    };
    // The node's run folder is the real node's: this record's stands in for it.
    const runDir = path.join(dir, 'run');
    expect(await nodeLeftovers(record, { runDir })).toEqual(
      expect.arrayContaining([expect.stringMatching(/cgroup\(s\) under/), expect.stringMatching(/^1 mount\(s\)/), `the network interface ${bridge}`, created]),
    );

    expect(await tearDownNode(record, { runDir })).toEqual([]);
    expect(await nodeLeftovers(record, { runDir })).toEqual([]);
    await exited;
    expect(stray.exitCode ?? stray.signalCode).toBe('SIGKILL');
    expect(readFileSync(sysctl, 'utf8').trim()).toBe(before);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(path.dirname(cgroup))).toBe(false);
  }, 60_000);
});
