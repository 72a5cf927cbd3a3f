// The node's kubelet and kube-proxy. The kubelet runs with the cgroupfs driver on cgroup v1 hierarchies
// (Kubernetes 1.35 refuses v1 unless told not to), swap checks off, its pods' cgroups under a root of its
// own, its state and pod logs in the cluster's folder, and a node name of its own; it listens on the node's
// bridge address only. kube-proxy programs iptables for Services and leaves the machine's conntrack settings alone.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { freePort } from '../../platform/freePort.js';
import { hasExited } from '../../platform/processes.js';
import { containerdSocket } from './containerd.js';
import type { NodeNetwork } from './hostNetwork.js';
import { kubeConfigFor, writeKubeconfig } from './kubeconfigs.js';
import type { ClusterPki } from './pki.js';
import { probe, START_TIMEOUT_MS, startServer, tail, waitUntilServing, type ServerProcess } from './serverProcess.js';

export const NODE_NAME = 'refit-node';
export const CGROUP_ROOT = 'refit-node';
/** What the kubelet sets on start (protectKernelDefaults off): recorded first, restored at teardown. */
export const KUBELET_SYSCTLS = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops'];

export interface NodeAgentOptions {
  dir: string;
  bin: string;
  server: string;
  pki: ClusterPki;
  network: NodeNetwork;
}

function kubeletConfiguration(options: NodeAgentOptions, dirs: { podLogs: string; resolvConf: string }, ports: { kubelet: number; healthz: number }) {
  const node = options.pki.node!;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${CGROUP_ROOT}`,
    failSwapOn: false,
    address: options.network.nodeAddress,
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.healthz,
    tlsCertFile: node.serving.cert,
    tlsPrivateKeyFile: node.serving.key,
    // Only the API server (by its client certificate) may use the kubelet's API; it asks the API server who may do what.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: options.pki.ca.cert } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${containerdSocket()}`,
    imageServiceEndpoint: `unix://${containerdSocket()}`,
    podLogsDir: dirs.podLogs,
    // No cluster DNS and no name servers: pods resolve nothing (their answers would have to come from off this machine).
    resolvConf: dirs.resolvConf,
    clusterDomain: 'cluster.local',
    protectKernelDefaults: false,
    serializeImagePulls: false,
    // A shared test machine's disk: evict only when it is really full, and keep images until then.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
    imageGCHighThresholdPercent: 98,
    imageGCLowThresholdPercent: 95,
    // Status a few times faster than the default, so that rollouts and readiness are seen sooner.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    shutdownGracePeriod: '0s',
  };
}

/**
 * The kubelet's cgroupRoot must exist under every hierarchy it uses. cgroup v1 gives a new cpuset no CPUs and no
 * memory nodes: it gets its parent's. (On a cgroup v2 machine one folder in the tree is enough.)
 */
export function createCgroupRoot(mount = '/sys/fs/cgroup'): void {
  const hierarchies = existsSync(path.join(mount, 'cgroup.controllers'))
    ? [mount]
    : readdirSync(mount)
        .filter((name) => name !== 'unified')
        .map((name) => path.join(mount, name));
  for (const hierarchy of hierarchies) {
    const root = path.join(hierarchy, CGROUP_ROOT);
    mkdirSync(root, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const own = path.join(root, file);
      if (existsSync(own) && !readFileSync(own, 'utf8').trim()) writeFileSync(own, readFileSync(path.join(hierarchy, file), 'utf8').trim());
    }
  }
}

export async function startKubelet(options: NodeAgentOptions): Promise<ServerProcess> {
  const base = path.join(options.dir, 'kubelet');
  const dirs = { root: path.join(base, 'root'), podLogs: path.join(base, 'pod-logs'), resolvConf: path.join(base, 'resolv.conf') };
  mkdirSync(dirs.root, { recursive: true });
  mkdirSync(dirs.podLogs, { recursive: true });
  writeFileSync(dirs.resolvConf, '');
  const [kubeletPort, healthzPort] = await Promise.all([freePort(), freePort()]);
  const configFile = path.join(base, 'config.json');
  writeFileSync(configFile, JSON.stringify(kubeletConfiguration(options, dirs, { kubelet: kubeletPort, healthz: healthzPort }), null, 2));
  const kubeconfig = writeKubeconfig(
    path.join(base, 'kubelet.kubeconfig'),
    kubeConfigFor(options.server, options.pki.ca.cert, { name: `system:node:${NODE_NAME}`, ...options.pki.node!.client }),
  );
  createCgroupRoot();
  const kubelet = startServer(options.dir, path.join(options.bin, 'kubelet'), [
    `--config=${configFile}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${dirs.root}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${options.network.nodeAddress}`,
    // cAdvisor, inside the kubelet, names containers (the `container` label of container_* series) by asking
    // containerd, at the default socket unless told: ours is in the node's run folder. Deprecated, still read.
    `--containerd=${containerdSocket()}`,
    '--v=1',
  ]);
  await waitUntilServing(kubelet, () => probe(`http://127.0.0.1:${healthzPort}/healthz`));
  return kubelet;
}

export async function startKubeProxy(options: NodeAgentOptions): Promise<ServerProcess> {
  const base = path.join(options.dir, 'kube-proxy');
  mkdirSync(base, { recursive: true });
  const [healthzPort, metricsPort] = await Promise.all([freePort(), freePort()]);
  const kubeconfig = writeKubeconfig(
    path.join(base, 'kube-proxy.kubeconfig'),
    kubeConfigFor(options.server, options.pki.ca.cert, { name: 'system:kube-proxy', ...options.pki.node!.proxy }),
  );
  const configFile = path.join(base, 'config.json');
  const zero = '0s';
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        mode: 'iptables',
        clientConnection: { kubeconfig },
        hostnameOverride: NODE_NAME,
        clusterCIDR: options.network.podCidr,
        healthzBindAddress: `127.0.0.1:${healthzPort}`,
        metricsBindAddress: `127.0.0.1:${metricsPort}`,
        // The machine's conntrack table and timeouts stay as they are (0 means "leave it").
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: zero, tcpCloseWaitTimeout: zero, udpTimeout: zero, udpStreamTimeout: zero },
        iptables: { localhostNodePorts: false, syncPeriod: '30s', minSyncPeriod: '0s' },
        // NodePorts on the bridge address only, never on this machine's other interfaces.
        nodePortAddresses: [`${options.network.nodeAddress}/32`],
      },
      null,
      2,
    ),
  );
  const proxy = startServer(options.dir, path.join(options.bin, 'kube-proxy'), [`--config=${configFile}`, '--v=1']);
  await waitUntilServing(proxy, () => probe(`http://127.0.0.1:${healthzPort}/healthz`));
  return proxy;
}

/** Resolves once the node reports Ready (its runtime and network are up); fails with its conditions otherwise. */
export async function waitForNodeReady(admin: KubeConfig, kubelet: ServerProcess): Promise<V1Node> {
  const core = admin.makeApiClient(CoreV1Api);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'not registered yet';
  while (Date.now() < deadline) {
    if (hasExited(kubelet.tether)) throw new Error(`the kubelet exited; its log (${kubelet.logFile}) ends with:\n${tail(kubelet.log)}`);
    try {
      const node = await core.readNode({ name: NODE_NAME });
      const ready = node.status?.conditions?.find((condition) => condition.type === 'Ready');
      if (ready?.status === 'True') return node;
      last = `Ready is ${ready?.status ?? 'unknown'}: ${ready?.message ?? ready?.reason ?? ''}`;
    } catch (err) {
      if ((err as { code?: number }).code !== 404) last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(
    `the node ${NODE_NAME} was not Ready within ${START_TIMEOUT_MS} ms (${last}); the kubelet's log (${kubelet.logFile}) ends with:\n${tail(kubelet.log)}`,
  );
}
