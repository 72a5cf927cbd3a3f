// The test run's Kubernetes cluster, started by globalSetup (which cannot load @jest/globals, so this is apart
// from kubernetes.ts, which test files use) and handed to the test files through the environment.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalClusterProcess, type LocalClusterProcess } from '../../devstack/kubernetes/localClusterProcess.js';

/** The cluster's LocalClusterInfo as JSON, or "off" (set by hand) for a run without one. */
export const INFO_VARIABLE = 'REFIT_TEST_KUBERNETES';
export const ERROR_VARIABLE = 'REFIT_TEST_KUBERNETES_ERROR';

/** globalSetup: starts the run's cluster; a failure is handed to the Kubernetes tests (which fail with it), not to every test. */
export async function startTestCluster(stateDir: string): Promise<LocalClusterProcess | undefined> {
  if (process.env[INFO_VARIABLE] === 'off') return undefined;
  const keep = Boolean(process.env.REFIT_KEEP_TEST_STATE);
  // Not under the Temporal server's state folder: that folder's tether removes it, and the node's folder holds
  // mounts until the node is stopped.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-test-k8s-'));
  try {
    const cluster = await startLocalClusterProcess(
      { dir, removeDir: !keep, node: 'auto', purpose: `refit tests (jest pid ${process.pid})`, lockWaitMs: 20 * 60_000 },
      path.join(stateDir, 'kubernetes.log'),
    );
    process.env[INFO_VARIABLE] = JSON.stringify(cluster.info);
    return cluster;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    process.env[ERROR_VARIABLE] = (err as Error).message;
    console.error(`\nrefit tests: the local Kubernetes cluster did not start; the Kubernetes tests will fail with:\n${(err as Error).message}`);
    return undefined;
  }
}
