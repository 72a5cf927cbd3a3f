// A single-node Kubernetes on this machine, for the tests and `refit dev --kubernetes`: the control plane
// (controlPlane.ts), a loopback OCI registry with the pause and Python runtime images (registry.ts), and a
// real node: containerd, the kubelet and kube-proxy on a bridge network of their own. Where a node cannot run
// (not root, no cgroups, no overlayfs: scripts/install-k8s-test-env.sh says why), the control plane runs alone.
// One node runs per machine (hostRecord.ts); its state lives in `dir` and the node's run folder.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import { installerLines, runInstaller } from '../installers.js';
import { startContainerd } from './containerd.js';
import { startControlPlane } from './controlPlane.js';
import { installCrds } from './crds.js';
import { allowPodsToReach, chooseNetwork, kubernetesChains, setUpNetwork, type NodeNetwork } from './hostNetwork.js';
import { releaseNodeLock, takeNodeLock, type HostChanges } from './hostRecord.js';
import { CGROUP_ROOT, KUBELET_SYSCTLS, NODE_NAME, startKubelet, startKubeProxy, waitForNodeReady } from './kubelet.js';
import { nodeLeftovers, tearDownNode } from './nodeTeardown.js';
import { createPki } from './pki.js';
import { pushImage, startRegistry } from './registry.js';
import { probe, startServer, stopServer, waitUntilServing, type ServerProcess } from './serverProcess.js';

export const PAUSE_VERSION = '3.10.1';
const CONTROL_PLANE_SERVICE_CIDR = '10.0.0.0/24';

export interface LocalClusterOptions {
  /** The cluster's folder (made if missing). */
  dir: string;
  /** Remove `dir` on stop (and, when the owner is killed, at the next node's start). */
  removeDir: boolean;
  /** `auto`: a node where this machine can run one, else the control plane alone; `true`: a node or an error. */
  node: boolean | 'auto';
  /** Who holds the node, for the message another user of the machine sees. */
  purpose: string;
  /** How long to wait for another node on this machine to stop. */
  lockWaitMs?: number;
  log?: (message: string) => void;
}

/** What a client needs to use the cluster; written to $REFIT_HOME/dev/kubernetes.json by `refit dev --kubernetes`. */
export interface LocalClusterInfo {
  kubeconfig: string;
  /** The folder of the cluster's binaries: kubectl, crane, ctr. */
  bin: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** host:port of the registry the node pulls from (absent without a node). */
  registry?: string;
  node?: { name: string; address: string; podCidr: string; serviceCidr: string };
  /** Why there is no node, when there is none. */
  nodeUnavailable?: string;
  images: { pause?: string; runtime?: string };
}

export interface LocalCluster extends LocalClusterInfo {
  /** Stops everything and undoes the node's changes to the machine; resolves to what could not be undone. */
  stop(): Promise<string[]>;
}

interface InstalledParts {
  bin: string;
  nodeUnavailable?: string;
  runtimeImage?: string;
}

/** What scripts/install-k8s-test-env.sh and build-runtime-image.sh installed (they only look: building is `make test-tools`' job). */
export async function installedParts(need: string, options: { runtimeImage: boolean } = { runtimeImage: true }): Promise<InstalledParts> {
  const lines = (await installerLines('install-k8s-test-env.sh', need, ['--check'])).filter(Boolean);
  const bin = lines.at(-1)!;
  const status = lines.find((line) => line.startsWith('node: ')) ?? 'node: unavailable: the installer did not say';
  const nodeUnavailable = status === 'node: ready' ? undefined : status.replace(/^node: unavailable: /, '');
  if (nodeUnavailable || !options.runtimeImage) return { bin, nodeUnavailable };
  const runtimeImage = await runInstaller('build-runtime-image.sh', `${need} (its pods run Refit's Python runtime image)`, ['--check']);
  return { bin, runtimeImage };
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  // A control plane alone runs no pods, so it needs no runtime image.
  const parts = await installedParts('a local Kubernetes cluster', { runtimeImage: options.node !== false }).catch((err: unknown) => {
    if (options.removeDir) rmSync(options.dir, { recursive: true, force: true });
    throw err;
  });
  if (options.node === true && parts.nodeUnavailable) {
    if (options.removeDir) rmSync(options.dir, { recursive: true, force: true });
    throw new Error(`a Kubernetes node cannot run on this machine: ${parts.nodeUnavailable}`);
  }
  const withNode = options.node !== false && !parts.nodeUnavailable;
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const servers: ServerProcess[] = [];
  let changes: HostChanges | undefined;
  const stop = async (): Promise<string[]> => {
    // Clients first, etcd (the first started) last.
    for (const server of [...servers].reverse()) await stopServer(server);
    if (!changes) {
      if (options.removeDir) rmSync(options.dir, { recursive: true, force: true });
      return [];
    }
    const problems = await tearDownNode(changes.record);
    // Then look again, as a user would: every stop (the tests', the demo's) proves nothing of the node is left.
    if (!problems.length) problems.push(...(await nodeLeftovers(changes.record)).map((left) => `left behind: ${left}`));
    if (!problems.length) releaseNodeLock();
    return problems;
  };
  try {
    if (!withNode) {
      log(`starting the control plane alone (${parts.nodeUnavailable ?? 'no node asked for'})`);
      const pki = await createPki(options.dir);
      const controlPlane = await startControlPlane(
        {
          dir: options.dir,
          bin: parts.bin,
          pki,
          serviceCidr: CONTROL_PLANE_SERVICE_CIDR,
          withNode: false,
          removeOnExit: options.removeDir ? options.dir : undefined,
        },
        servers,
      );
      await installCrds(controlPlane.admin, path.join(path.dirname(parts.bin), 'crds'));
      return {
        kubeconfig: controlPlane.adminKubeconfigPath,
        bin: parts.bin,
        server: controlPlane.server,
        nodeUnavailable: parts.nodeUnavailable,
        images: {},
        stop,
      };
    }

    changes = await takeNodeLock({
      dir: options.dir,
      removeDir: options.removeDir,
      purpose: options.purpose,
      waitMs: options.lockWaitMs ?? 15 * 60_000,
      cleanUp: (record) => tearDownNode(record),
      onWait: log,
    });
    changes.recordFixedPaths();
    changes.recordSysctls(KUBELET_SYSCTLS);
    changes.update({
      cgroupRoot: CGROUP_ROOT,
      shimBinary: path.join(parts.bin, 'containerd-shim-runc-v2'),
      kubeProxyBinary: path.join(parts.bin, 'kube-proxy'),
    });
    const foreign = await kubernetesChains();
    if (foreign.length) {
      throw new Error(
        `this machine already has Kubernetes iptables rules (${foreign[0]}, ${foreign.length} chains in all): another kubelet or kube-proxy runs, or ran, here; a local node would remove them when it stops, so it does not start. Remove them (kube-proxy --cleanup) or stop that Kubernetes first`,
      );
    }
    const network = await chooseNetwork();
    await setUpNetwork(network, changes);
    log(`node network: bridge ${network.bridge} ${network.nodeAddress} (pods ${network.podCidr}, Services ${network.serviceCidr})`);

    const pki = await createPki(options.dir, { name: NODE_NAME, address: network.nodeAddress, serviceIp: firstServiceIp(network.serviceCidr) });
    const controlPlane = await startControlPlane({ dir: options.dir, bin: parts.bin, pki, serviceCidr: network.serviceCidr, withNode: true }, servers);
    log(`control plane at ${controlPlane.server}`);
    servers.push(await exposeApiServerToPods(options.dir, controlPlane, network));
    const crds = installCrds(controlPlane.admin, path.join(path.dirname(parts.bin), 'crds'));

    // On the bridge address, so that build pods can push what the node then pulls.
    const registry = await startRegistry(options.dir, parts.bin, network.nodeAddress);
    servers.push(registry.server);
    await allowPodsToReach(network, registry.port);
    const images = {
      pause: `${registry.address}/refit-runtime/pause:${PAUSE_VERSION}`,
      runtime: `${registry.address}/refit-runtime/python:${path.basename(parts.runtimeImage!, '.tar').replace(/^refit-python-/, '')}`,
    };
    await Promise.all([
      pushImage(parts.bin, path.join(path.dirname(parts.bin), 'images', `pause-${PAUSE_VERSION}.tar`), images.pause),
      pushImage(parts.bin, parts.runtimeImage!, images.runtime),
    ]);
    log(`registry at ${registry.address} with ${images.pause} and ${images.runtime}`);

    servers.push(await startContainerd({ dir: options.dir, bin: parts.bin, network, registry: registry.address, pauseImage: images.pause, runc: 'runc' }));
    const agents = { dir: options.dir, bin: parts.bin, server: controlPlane.server, pki, network };
    changes.update({ kubeletStarted: true });
    const kubelet = await startKubelet(agents);
    servers.push(kubelet);
    changes.update({ kubeProxyStarted: true });
    servers.push(await startKubeProxy(agents));
    await Promise.all([waitForNodeReady(controlPlane.admin, kubelet), crds]);
    log(`node ${NODE_NAME} is Ready`);
    return {
      kubeconfig: controlPlane.adminKubeconfigPath,
      bin: parts.bin,
      server: controlPlane.server,
      registry: registry.address,
      node: nodeOf(network),
      images,
      stop,
    };
  } catch (err) {
    const problems = await stop();
    if (problems.length) (err as Error).message += `\n(and stopping what had started left: ${problems.join('; ')})`;
    throw err;
  }
}

function nodeOf(network: NodeNetwork): LocalClusterInfo['node'] {
  return { name: NODE_NAME, address: network.nodeAddress, podCidr: network.podCidr, serviceCidr: network.serviceCidr };
}

/** The first address of the Service range: the `kubernetes` Service's ClusterIP. */
function firstServiceIp(serviceCidr: string): string {
  const [base] = serviceCidr.split('/');
  const octets = base!.split('.').map(Number);
  octets[3] = octets[3]! + 1;
  return octets.join('.');
}

/**
 * Pods reach the API server as in a cluster: `kubernetes.default` (its ClusterIP, KUBERNETES_SERVICE_HOST) leads,
 * through kube-proxy, to a forwarder on the node's bridge address and the same port, and from there to the API
 * server on loopback. The Service's EndpointSlice names that forwarder (the API server's own endpoint reconciler is
 * off: it would advertise 127.0.0.1).
 */
async function exposeApiServerToPods(dir: string, controlPlane: { server: string; admin: KubeConfig }, network: NodeNetwork): Promise<ServerProcess> {
  const port = Number(new URL(controlPlane.server).port);
  const forwarder = startServer(dir, process.execPath, [
    fileURLToPath(new URL('./tcpForwarder.js', import.meta.url)),
    `${network.nodeAddress}:${port}`,
    `127.0.0.1:${port}`,
  ]);
  await waitUntilServing(forwarder, () => probe(`https://${network.nodeAddress}:${port}/livez`, { insecure: true }));
  await allowPodsToReach(network, port);
  await controlPlane.admin.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
    namespace: 'default',
    body: {
      metadata: {
        name: 'kubernetes-refit-node',
        labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'refit-node' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [network.nodeAddress], conditions: { ready: true } }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    },
  });
  return forwarder;
}
