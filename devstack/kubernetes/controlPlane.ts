// The local cluster's control plane, started the way controller-runtime's envtest starts one: etcd, then
// kube-apiserver, then kube-controller-manager (and kube-scheduler when there is a node to schedule to), on
// loopback and free ports, with the certificates of pki.ts. Nothing here leaves the cluster's folder.
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../../platform/freePort.js';
import { kubeConfigFor, writeKubeconfig } from './kubeconfigs.js';
import { FRONT_PROXY_CLIENT_NAME, type ClusterPki } from './pki.js';
import { probe, startServer, waitUntilServing, type ServerProcess } from './serverProcess.js';

/** The controllers Refit's deployments exercise; the others only cost start-up time on two cores. */
const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  // Builds on the cluster: a Job per build, and its removal once its time after finishing is up.
  'job-controller',
  'ttl-after-finished-controller',
];
/** With a node, also what makes Services route (kube-proxy reads EndpointSlices) and what cleans up after pods. */
const NODE_CONTROLLERS = [
  // The kubelet registers its node tainted not-ready; this controller lifts the taint once the node is Ready.
  'node-lifecycle-controller',
  'endpointslice-controller',
  'root-ca-certificate-publisher-controller',
  'pod-garbage-collector-controller',
  // What scales a Deployment on the metrics an autoscaler's metrics server (KEDA's) serves, as in a real cluster.
  'horizontal-pod-autoscaler-controller',
];
/** How often the HPA controller looks at each autoscaler: 15 s by default, shorter so that a test sees it act. */
const HPA_SYNC_PERIOD = '5s';

export interface ControlPlaneOptions {
  dir: string;
  bin: string;
  pki: ClusterPki;
  /** The Services' ClusterIP range. */
  serviceCidr: string;
  /** Whether a kubelet joins: then the Node authorizer, the scheduler and the controllers pods need run too. */
  withNode: boolean;
  /** etcd's tether removes this folder once etcd (started first, stopped last) is gone. */
  removeOnExit?: string;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  admin: KubeConfig;
  adminKubeconfigPath: string;
  /** In start order; stop them in reverse. */
  servers: ServerProcess[];
}

/** Starts the servers one after another; on failure stops those already started and rethrows. */
export async function startControlPlane(options: ControlPlaneOptions, servers: ServerProcess[]): Promise<ControlPlane> {
  const { dir, bin, pki, withNode } = options;
  const [etcdPort, etcdPeerPort, apiPort, controllerManagerPort, schedulerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const server = `https://127.0.0.1:${apiPort}`;
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  const etcd = startServer(
    dir,
    path.join(bin, 'etcd'),
    [
      '--name=refit-local',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=refit-local=${peerUrl}`,
      // A throwaway store: durability only costs time.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    { removeOnExit: options.removeOnExit },
  );
  servers.push(etcd);
  await waitUntilServing(etcd, () => probe(`${etcdUrl}/health`));

  const apiServer = startServer(dir, path.join(bin, 'kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${path.join(dir, 'kube-apiserver')}`,
    `--tls-cert-file=${pki.apiServer.cert}`,
    `--tls-private-key-file=${pki.apiServer.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    // As in a real cluster: kubelets act within the Node authorizer's limits, everyone else by RBAC; the admin is
    // in system:masters, each controller has its bootstrap role.
    `--authorization-mode=${withNode ? 'Node,RBAC' : 'RBAC'}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccount.key}`,
    `--service-cluster-ip-range=${options.serviceCidr}`,
    // The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints validation refuses, in a loop.
    '--endpoint-reconciler-type=none',
    ...(withNode
      ? [
          '--enable-admission-plugins=NodeRestriction',
          // Node names are not looked up in DNS (that query would leave the machine): the node's own address.
          '--kubelet-preferred-address-types=InternalIP',
          `--kubelet-certificate-authority=${pki.ca.cert}`,
          `--kubelet-client-certificate=${pki.apiServerKubeletClient.cert}`,
          `--kubelet-client-key=${pki.apiServerKubeletClient.key}`,
        ]
      : // As in envtest: without a node nothing creates a namespace's `default` service account in time for its
        // first pod, which the ServiceAccount plugin would wait for. The other default plugins stay on.
        ['--disable-admission-plugins=ServiceAccount']),
    '--allow-privileged=true',
    '--profiling=false',
    // The aggregation layer, for extension API servers such as KEDA's metrics server: the API server proxies to
    // them with this client certificate and the user in headers they trust for requests signed by this CA.
    `--requestheader-client-ca-file=${pki.aggregation.ca.cert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_NAME}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.aggregation.client.cert}`,
    `--proxy-client-key-file=${pki.aggregation.client.key}`,
    // To the endpoints of an APIService's Service rather than its ClusterIP: such a server may run on the host.
    '--enable-aggregator-routing=true',
  ]);
  servers.push(apiServer);
  const admin = kubeConfigFor(server, pki.ca.cert, { name: 'refit-local-admin', ...pki.admin });
  await waitUntilServing(apiServer, () => probe(`${server}/readyz`, { ca: pki.ca.cert, ...pki.admin }));

  const controllerManagerKubeconfig = writeKubeconfig(
    path.join(dir, 'kube-controller-manager.kubeconfig'),
    kubeConfigFor(server, pki.ca.cert, { name: 'system:kube-controller-manager', ...pki.controllerManager }),
  );
  const controllerManager = startServer(dir, path.join(bin, 'kube-controller-manager'), [
    `--kubeconfig=${controllerManagerKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${controllerManagerPort}`,
    `--cert-dir=${path.join(dir, 'kube-controller-manager')}`,
    '--leader-elect=false',
    `--controllers=${[...CONTROLLERS, ...(withNode ? NODE_CONTROLLERS : [])].join(',')}`,
    // Each controller acts as its own service account with its bootstrap RBAC role, as kubeadm sets it up.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccount.key}`,
    `--root-ca-file=${pki.ca.cert}`,
    ...(withNode ? [`--horizontal-pod-autoscaler-sync-period=${HPA_SYNC_PERIOD}`] : []),
  ]);
  servers.push(controllerManager);
  if (withNode) {
    const schedulerKubeconfig = writeKubeconfig(
      path.join(dir, 'kube-scheduler.kubeconfig'),
      kubeConfigFor(server, pki.ca.cert, { name: 'system:kube-scheduler', ...pki.scheduler }),
    );
    const scheduler = startServer(dir, path.join(bin, 'kube-scheduler'), [
      `--kubeconfig=${schedulerKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
      `--cert-dir=${path.join(dir, 'kube-scheduler')}`,
      '--leader-elect=false',
    ]);
    servers.push(scheduler);
    await waitUntilServing(scheduler, () => probe(`https://127.0.0.1:${schedulerPort}/healthz`, { insecure: true }));
  }
  // It serves /healthz with a certificate it made itself; only the answer matters here.
  await waitUntilServing(controllerManager, () => probe(`https://127.0.0.1:${controllerManagerPort}/healthz`, { insecure: true }));
  const adminKubeconfigPath = writeKubeconfig(path.join(dir, 'kubeconfig'), admin);
  return { server, admin, adminKubeconfigPath, servers };
}
