// The Kubernetes half of `refit dev --kubernetes` and `make demo-kubernetes`: this machine's single-node
// cluster (devstack/kubernetes), a namespace for the models, and the worker settings that point the
// Kubernetes target at them: deploys run the builds' images as pods. Builds run here and are pushed to the
// node's registry, or, with builds on the cluster (REFIT_BUILD_RUNNER=kubernetes), run as Jobs on the node,
// installing from a caching PyPI proxy on the node's bridge address (pods reach nothing off this machine).
// What a client needs is written to $REFIT_HOME/dev/kubernetes.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { refitHome } from '../platform/paths.js';
import type { LocalClusterInfo } from './kubernetes/localCluster.js';
import { allowPodsToReach } from './kubernetes/hostNetwork.js';
import { startLocalClusterProcess } from './kubernetes/localClusterProcess.js';
import { startPypiProxy, type PypiProxy } from './pypiProxy.js';

export const DEV_NAMESPACE = 'refit-dev';

/** $REFIT_HOME/dev/kubernetes.json: what `kubectl` and other tools need to look at the dev cluster. */
export interface KubernetesDevRecord {
  kubeconfig: string;
  registry: string;
  namespace: string;
}

export interface KubernetesDev {
  info: LocalClusterInfo;
  record: KubernetesDevRecord;
  recordFile: string;
  logFile: string;
  /** The worker's settings for this cluster (REFIT_DEPLOY_TARGET, KUBECONFIG, ...). */
  workerEnv: Record<string, string>;
  /** Where builds run: `kubernetes` when they are Jobs on the node. */
  buildRunner: 'local' | 'kubernetes';
  /** The node's bridge address: a server for build pods (a git server) listens there and is opened with openToPods. */
  podHost: string;
  openToPods(port: number): Promise<void>;
  /** Stops the node and undoes its changes to the machine; rejects with what could not be undone. */
  stop(): Promise<void>;
}

/**
 * Starts the node (one per machine: waits up to `lockWaitMs` while a test run holds it) and the namespace.
 * The cluster's own state is throwaway: models deployed to it go when it stops, their builds stay in the
 * history and the registry's images go with the registry.
 */
export async function startKubernetesDev(options: {
  namespace?: string;
  purpose: string;
  lockWaitMs?: number;
  /** Where builds run (default: REFIT_BUILD_RUNNER, else here). */
  buildRunner?: 'local' | 'kubernetes';
}): Promise<KubernetesDev> {
  const buildRunner = options.buildRunner ?? (process.env.REFIT_BUILD_RUNNER === 'kubernetes' ? 'kubernetes' : 'local');
  const devDir = path.join(refitHome(), 'dev');
  mkdirSync(devDir, { recursive: true });
  const logFile = path.join(devDir, 'kubernetes.log');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-dev-k8s-'));
  const cluster = await startLocalClusterProcess(
    { dir, removeDir: true, node: true, purpose: options.purpose, lockWaitMs: options.lockWaitMs ?? 60_000 },
    logFile,
  ).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const recordFile = path.join(devDir, 'kubernetes.json');
  let proxy: PypiProxy | undefined;
  try {
    const { info } = cluster;
    const namespace = options.namespace ?? DEV_NAMESPACE;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(info.kubeconfig);
    await kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace, labels: { 'app.kubernetes.io/managed-by': 'refit-dev' } } } });
    const record: KubernetesDevRecord = { kubeconfig: info.kubeconfig, registry: info.registry!, namespace };
    writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`);
    const workerEnv = {
      REFIT_DEPLOY_TARGET: 'kubernetes',
      KUBECONFIG: info.kubeconfig,
      REFIT_KUBE_NAMESPACE: namespace,
      REFIT_IMAGE_REPOSITORY: `${info.registry}/models`,
      REFIT_RUNTIME_IMAGE: info.images.runtime!,
      REFIT_CRANE: path.join(info.bin, 'crane'),
      REFIT_BUILD_RUNNER: buildRunner,
    };
    const podHost = info.node!.address;
    const openToPods = (port: number) => allowPodsToReach({ nodeAddress: podHost }, port);
    if (buildRunner === 'kubernetes') {
      proxy = await startPypiProxy({ host: podHost, dir: path.join(dir, 'pypi-proxy') });
      await openToPods(proxy.port);
      Object.assign(workerEnv, { REFIT_PIP_INDEX_URL: proxy.url, REFIT_GIT_ALLOW_HTTP_HOSTS: podHost });
    }
    return {
      info,
      record,
      recordFile,
      logFile,
      workerEnv,
      buildRunner,
      podHost,
      openToPods,
      async stop() {
        rmSync(recordFile, { force: true });
        await proxy?.stop();
        await cluster.stop();
      },
    };
  } catch (err) {
    await proxy?.stop().catch(() => undefined);
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}
