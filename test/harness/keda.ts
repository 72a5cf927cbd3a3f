// KEDA's operator and metrics API server (built by scripts/install-k8s-test-env.sh from the pinned KEDA module)
// for a test on the node. They run as processes of the host, as the control plane does, with the admin's
// kubeconfig, and are wired the way KEDA's manifests wire them in a cluster: the two talk gRPC over mutual TLS
// (a CA of their own, in their certificate folder), and the metrics server answers the API group
// external.metrics.k8s.io through the API server's aggregation layer (an APIService, its Service and an
// EndpointSlice naming the node's bridge address, where the metrics server listens). The kube-controller-manager's
// HPA controller then reads those metrics and scales, as in a real cluster.
//
// The operator watches one namespace only: the test's. Other files' ScaledObjects stay as they were applied.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiregistrationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type V1APIService } from '@kubernetes/client-node';
import { freePort } from '../../platform/freePort.js';
import { createCertificateAuthority } from '../../devstack/kubernetes/pki.js';
import { probe, startServer, stopServer, waitUntilServing, type ServerProcess } from '../../devstack/kubernetes/serverProcess.js';
import type { testNode } from './kubernetes.js';

/** Where KEDA's own objects live (its "cluster object namespace"), as its manifests install it. */
export const KEDA_NAMESPACE = 'keda';
const METRICS_SERVICE = 'keda-metrics-apiserver';
const API_SERVICE = 'v1beta1.external.metrics.k8s.io';
const READY_TIMEOUT_MS = 120_000;

export interface TestKeda {
  /** Deletes the watched namespace's ScaledObjects (the operator removes its finalizers), then KEDA itself. */
  stop(): Promise<void>;
}

export async function startKeda(kubernetes: ReturnType<typeof testNode>, dir: string, watchNamespace: string): Promise<TestKeda> {
  const { kubeConfig, kubeconfigPath, node, bin } = kubernetes;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const registration = kubeConfig.makeApiClient(ApiregistrationV1Api);
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await deleteScaledObjects(kubernetes, watchNamespace).catch(() => undefined);
    // First the APIService: while it is registered and unavailable, discovery fails and namespaces do not go.
    await registration.deleteAPIService({ name: API_SERVICE }).catch(() => undefined);
    for (const server of servers.reverse()) await stopServer(server);
    await core.deleteNamespace({ name: KEDA_NAMESPACE }).catch(() => undefined);
  };
  try {
    const certs = await certificates(dir);
    const [grpcPort, healthPort, securePort, adapterMetricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env = {
      KUBECONFIG: kubeconfigPath,
      WATCH_NAMESPACE: watchNamespace,
      POD_NAMESPACE: KEDA_NAMESPACE,
      KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE,
    };
    await core.createNamespace({ body: { metadata: { name: KEDA_NAMESPACE } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    const operator = startServer(
      dir,
      path.join(bin, 'keda-operator'),
      [
        '--metrics-bind-address=0',
        `--health-probe-bind-address=127.0.0.1:${healthPort}`,
        `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
        `--cert-dir=${certs}`,
        `--ca-dir=${path.join(dir, 'custom-ca')}`,
        '--zap-encoder=console',
        '--zap-log-level=info',
      ],
      { env },
    );
    servers.push(operator);
    await waitUntilServing(operator, () => probe(`http://127.0.0.1:${healthPort}/readyz`), READY_TIMEOUT_MS);

    const adapter = startServer(
      dir,
      path.join(bin, 'keda-adapter'),
      [
        `--bind-address=${node.address}`,
        `--secure-port=${securePort}`,
        `--cert-dir=${certs}`,
        `--tls-cert-file=${path.join(certs, 'tls.crt')}`,
        `--tls-private-key-file=${path.join(certs, 'tls.key')}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        `--lister-kubeconfig=${kubeconfigPath}`,
        `--metrics-service-address=127.0.0.1:${grpcPort}`,
        `--port=${adapterMetricsPort}`,
        '--zap-encoder=console',
        '--zap-log-level=info',
      ],
      { env },
    );
    servers.push(adapter);
    await waitUntilServing(adapter, () => probe(`https://${node.address}:${securePort}/readyz`, { insecure: true }), READY_TIMEOUT_MS);

    await registerMetricsApi(kubernetes, securePort, readFileSync(path.join(certs, 'ca.crt')));
    await waitUntilServing(adapter, () => apiServiceAvailable(registration), READY_TIMEOUT_MS);
    return { stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The folder both read: ca.crt, tls.crt, tls.key (KEDA's names), one pair for the gRPC link and the serving port. */
async function certificates(dir: string): Promise<string> {
  const authority = await createCertificateAuthority(path.join(dir, 'pki'), 'keda-ca', '/CN=refit-test-keda-ca');
  const pair = await authority.issue('keda', '/O=KEDAORG/CN=keda', {
    // The API server checks the Service's DNS name; the metrics server dials the operator at 127.0.0.1.
    serverAndClient: [`DNS:${METRICS_SERVICE}.${KEDA_NAMESPACE}.svc`, `DNS:keda-operator.${KEDA_NAMESPACE}.svc`, 'IP:127.0.0.1'],
  });
  const certs = path.join(dir, 'certs');
  mkdirSync(certs, { recursive: true, mode: 0o700 });
  copyFileSync(authority.ca.cert, path.join(certs, 'ca.crt'));
  copyFileSync(pair.cert, path.join(certs, 'tls.crt'));
  copyFileSync(pair.key, path.join(certs, 'tls.key'));
  return certs;
}

/** The Service and EndpointSlice the API server resolves to the metrics server on the host, and the APIService. */
async function registerMetricsApi(kubernetes: ReturnType<typeof testNode>, port: number, caBundle: Buffer): Promise<void> {
  const { kubeConfig, node } = kubernetes;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedService({
    namespace: KEDA_NAMESPACE,
    body: { metadata: { name: METRICS_SERVICE }, spec: { ports: [{ name: 'https', port: 443, targetPort: port, protocol: 'TCP' }] } },
  });
  await kubeConfig.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: KEDA_NAMESPACE,
    body: {
      metadata: {
        name: METRICS_SERVICE,
        labels: { 'kubernetes.io/service-name': METRICS_SERVICE, 'endpointslice.kubernetes.io/managed-by': 'refit-tests' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [node.address], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    },
  });
  const apiService: V1APIService = {
    metadata: { name: API_SERVICE },
    spec: {
      group: 'external.metrics.k8s.io',
      version: 'v1beta1',
      service: { name: METRICS_SERVICE, namespace: KEDA_NAMESPACE, port: 443 },
      caBundle: caBundle.toString('base64'),
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  };
  await kubeConfig.makeApiClient(ApiregistrationV1Api).createAPIService({ body: apiService });
}

async function apiServiceAvailable(registration: ApiregistrationV1Api): Promise<void> {
  const service = await registration.readAPIService({ name: API_SERVICE });
  const available = service.status?.conditions?.find((condition) => condition.type === 'Available');
  if (available?.status !== 'True') throw new Error(`${API_SERVICE} is not Available: ${available?.reason ?? 'no condition yet'}: ${available?.message ?? ''}`);
}

async function deleteScaledObjects(kubernetes: ReturnType<typeof testNode>, namespace: string): Promise<void> {
  const custom = kubernetes.kubeConfig.makeApiClient(CustomObjectsApi);
  const scaledObjects = { group: 'keda.sh', version: 'v1alpha1', namespace, plural: 'scaledobjects' };
  await custom.deleteCollectionNamespacedCustomObject(scaledObjects);
  const deadline = Date.now() + 60_000;
  while (((await custom.listNamespacedCustomObject(scaledObjects)) as { items: unknown[] }).items.length) {
    if (Date.now() > deadline) throw new Error(`the ScaledObjects of ${namespace} were not gone within 60 s (KEDA keeps a finalizer on each)`);
    await sleep(250);
  }
}
