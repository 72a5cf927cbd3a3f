// The Kubernetes half of `refit dev --kubernetes` and `make demo-kubernetes`: this machine's single-node
// cluster (devstack/kubernetes), a namespace for the models, and the worker settings that point the
// Kubernetes target at them: builds run here and are pushed to the node's registry as images, deploys run
// them as pods. What a client needs is written to $REFIT_HOME/dev/kubernetes.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { refitHome } from '../platform/paths.js';
import type { LocalClusterInfo } from './kubernetes/localCluster.js';
import { startLocalClusterProcess } from './kubernetes/localClusterProcess.js';

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
  /** Stops the node and undoes its changes to the machine; rejects with what could not be undone. */
  stop(): Promise<void>;
}

/**
 * Starts the node (one per machine: waits up to `lockWaitMs` while a test run holds it) and the namespace.
 * The cluster's own state is throwaway: models deployed to it go when it stops, their builds stay in the
 * history and the registry's images go with the registry.
 */
export async function startKubernetesDev(options: { namespace?: string; purpose: string; lockWaitMs?: number }): Promise<KubernetesDev> {
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
    };
    return {
      info,
      record,
      recordFile,
      logFile,
      workerEnv,
      async stop() {
        rmSync(recordFile, { force: true });
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}
