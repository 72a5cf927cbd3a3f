import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../devstack/temporalDevServer.js';
import { fileURLToPath } from 'node:url';
import { publishRunState } from './runState.js';
import { startTestCluster } from './kubernetesCluster.js';
import type { LocalClusterProcess } from '../../devstack/kubernetes/localClusterProcess.js';

declare global {
  var refitTestServer: DevServer | undefined;
  var refitTestStateDir: string | undefined;
  var refitTestCluster: LocalClusterProcess | undefined;
}

/** One Temporal dev server, one workflow bundle and one Kubernetes cluster (with a real node where it can run) for the whole test run. */
export default async function globalSetup(): Promise<void> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'refit-test-'));
  globalThis.refitTestStateDir = stateDir;
  const started = Date.now();
  const [server, bundle, cluster] = await Promise.all([
    startDevServer({
      dbFile: path.join(stateDir, 'temporal.sqlite'),
      stateDir,
      headless: true,
      removeStateDirOnExit: !process.env.REFIT_KEEP_TEST_STATE,
    }),
    // Refit's workflows and the tests' own (the smoke test), bundled once for the run.
    bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)), logger: quietBundlerLogger }),
    startTestCluster(stateDir),
  ]);
  globalThis.refitTestServer = server;
  globalThis.refitTestCluster = cluster;
  const workflowBundlePath = path.join(stateDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);
  publishRunState({ address: server.address, namespace: server.namespace, workflowBundlePath, stateDir });
  console.log(
    `\nrefit tests: Temporal dev server at ${server.address} (pid ${server.pid}), workflows bundled, ` +
      `${cluster ? `Kubernetes at ${cluster.info.server}${cluster.info.node ? ` with the node ${cluster.info.node.name}` : ` without a node (${cluster.info.nodeUnavailable})`}, ` : ''}` +
      `${Date.now() - started} ms; state in ${stateDir}`,
  );
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
