// One local Kubernetes cluster for the whole test run (devstack/kubernetes/localCluster.ts): the control plane,
// a loopback registry, and a real node (containerd, kubelet, kube-proxy) where this machine can run one.
// globalSetup starts it beside the Temporal dev server and hands it to the test files through the
// environment; globalTeardown stops it and undoes the node's changes to the machine. If jest itself is
// killed, the cluster's owner process notices its stdin close and does the same.
//
// The node is one machine-wide resource (its CPUs, cluster-wide CRDs some tests remove and put back), so test
// files that use it take the node lease first and hand the node back clean: their namespaces deleted and
// their pods gone (useNodeLease).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { LocalClusterInfo } from '../../devstack/kubernetes/localCluster.js';
import { processStartTime } from '../../devstack/kubernetes/hostRecord.js';
import { installCrds } from '../../devstack/kubernetes/crds.js';

import { ERROR_VARIABLE, INFO_VARIABLE } from './kubernetesCluster.js';

export interface TestKubernetes extends LocalClusterInfo {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
}

/** The run's cluster, in a test file. */
export function testKubernetes(): TestKubernetes {
  const info = process.env[INFO_VARIABLE];
  if (!info || info === 'off') {
    throw new Error(
      process.env[ERROR_VARIABLE]
        ? `the test run's Kubernetes cluster did not start: ${process.env[ERROR_VARIABLE]}`
        : `${INFO_VARIABLE} is not set: run the tests through jest's globalSetup (make test), and not with ${INFO_VARIABLE}=off`,
    );
  }
  const parsed = JSON.parse(info) as LocalClusterInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(parsed.kubeconfig);
  return { ...parsed, kubeConfig, kubeconfigPath: parsed.kubeconfig };
}

/** The run's cluster with its node; fails, saying why, where this machine runs the control plane alone. */
export function testNode(): TestKubernetes & Required<Pick<LocalClusterInfo, 'node' | 'registry'>> {
  const kubernetes = testKubernetes();
  if (!kubernetes.node || !kubernetes.registry) {
    throw new Error(`this test needs a Kubernetes node, and this machine runs the control plane alone: ${kubernetes.nodeUnavailable ?? 'no node was started'}`);
  }
  return kubernetes as TestKubernetes & Required<Pick<LocalClusterInfo, 'node' | 'registry'>>;
}

/**
 * Takes the node lease for the file's tests (waiting for another file to hand it back), and at the end deletes
 * the namespaces `namespaces()` lists, waits until they and their pods are gone, puts back any CRD a test
 * removed, and hands the lease back.
 */
export function useNodeLease(namespaces: () => string[]): void {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await takeNodeLease();
  }, 30 * 60_000);
  afterAll(async () => {
    try {
      const info = process.env[INFO_VARIABLE];
      if (info && info !== 'off') {
        const kubernetes = testKubernetes();
        await deleteNamespaces(kubernetes.kubeConfig, namespaces());
        // Some tests take a CRD away to see the target without KEDA or the Gateway API: the next file gets them back.
        await installCrds(kubernetes.kubeConfig, path.join(path.dirname(kubernetes.bin), 'crds'));
      }
    } finally {
      release?.();
    }
  }, 180_000);
}

async function takeNodeLease(): Promise<() => void> {
  const stateDir = process.env.REFIT_TEST_STATE_DIR ?? os.tmpdir();
  const lease = path.join(stateDir, 'node-lease');
  for (;;) {
    try {
      mkdirSync(lease);
      writeFileSync(path.join(lease, 'owner'), `${process.pid} ${processStartTime(process.pid)}`);
      return () => rmSync(lease, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // A jest worker that died holding it (killed by a timeout) gives it up.
    const owner = (() => {
      try {
        return readFileSync(path.join(lease, 'owner'), 'utf8').split(' ');
      } catch {
        return undefined;
      }
    })();
    if (owner && processStartTime(Number(owner[0])) !== owner[1]) rmSync(lease, { recursive: true, force: true });
    await sleep(300);
  }
}

/** Deletes the namespaces and resolves once the API server no longer has them (their pods gone with them). */
export async function deleteNamespaces(kubeConfig: KubeConfig, names: string[]): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await Promise.all(names.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  const deadline = Date.now() + 150_000;
  for (const name of names) {
    for (;;) {
      const gone = await core.readNamespace({ name }).then(
        () => false,
        (err: { code?: number }) => err.code === 404,
      );
      if (gone) break;
      if (Date.now() > deadline) throw new Error(`the namespace ${name} was not deleted within 150 s`);
      await sleep(250);
    }
  }
}
