// `make dev`: the embedded dev server and a worker in the foreground until Ctrl-C; with --kubernetes, also
// this machine's single-node cluster, which the worker deploys to.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startEmbeddedStack } from './embeddedStack.js';
import { startKubernetesDev, type KubernetesDev } from './kubernetesDev.js';
import path from 'node:path';
import { packageRoot, refitHome } from '../platform/paths.js';
import { stillServing } from './stillServing.js';
import { devLogLine } from './devLog.js';
import { startDevGitServer, type DevGitServer } from './devGitServer.js';
import { EXAMPLE_MODEL_FOLDER } from '../platform/devStackRecord.js';

/** The embedded stack in the foreground until Ctrl-C: `make dev` and `refit dev [--kubernetes]`. */
export async function runDevStack(options: { kubernetes?: boolean } = {}): Promise<void> {
  // A line per run outcome and one per warning; REFIT_LOG_LEVEL=INFO or DEBUG prints the SDK's log whole.
  const verbose = process.env.REFIT_LOG_LEVEL ? new DefaultLogger(process.env.REFIT_LOG_LEVEL as 'INFO') : undefined;
  Runtime.install({
    logger: new DefaultLogger((process.env.REFIT_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO', (entry) => {
      if (verbose) return verbose.log(entry.level, entry.message, entry.meta);
      const line = devLogLine({ level: entry.level, message: entry.message, meta: entry.meta as Record<string, unknown> | undefined });
      if (line) console.log(line);
    }),
  });
  let kubernetes: KubernetesDev | undefined;
  if (options.kubernetes) {
    console.log('starting the single-node Kubernetes cluster (about 15 s) ...');
    kubernetes = await startKubernetesDev({ purpose: `refit dev (pid ${process.pid})` });
    // The worker reads its settings from the environment: these point it, and only it, at the cluster.
    Object.assign(process.env, kubernetes.workerEnv);
  }
  // The dev loop runs the operator's own repositories: file:// ones too (`refit init --model`), unless they say no.
  process.env.REFIT_GIT_ALLOW_FILE ??= '1';
  const stack = await startEmbeddedStack({ strictPorts: true }).catch(async (err: unknown) => {
    await kubernetes?.stop();
    throw err;
  });
  if (!stack.ownsServer) {
    console.log(`another Refit process already serves this machine's dev stack at ${stack.server.address}; adding a worker`);
    if (kubernetes) {
      // Two workers on one task queue with different targets would deploy each run to either, at random.
      await stack.stop();
      await kubernetes.stop();
      throw new Error('`refit dev --kubernetes` needs the dev stack to itself: stop the other `refit dev`/`make dev` first');
    }
  }
  // The example model on a git server of its own, which `refit init` points new automations at (not for pods:
  // with --kubernetes, build Jobs reach only the node's bridge address).
  let git: DevGitServer | undefined;
  if (!kubernetes && stack.ownsServer) {
    git = await startDevGitServer(refitHome()).catch(async (err: unknown) => {
      await stack.stop();
      throw err;
    });
  }
  console.log(`Refit dev stack is up (Ctrl-C stops it):`);
  console.log(`  Temporal  ${stack.server.address}   (TEMPORAL_ADDRESS=${stack.server.address})`);
  console.log(`  Web UI    ${stack.server.uiUrl}`);
  console.log(`  worker    task queue "${stack.taskQueue}", namespace "${stack.server.namespace}"`);
  console.log(`  log       ${stack.server.logFile}`);
  if (git) console.log(`  git       ${git.repository}#${EXAMPLE_MODEL_FOLDER} (the example model; token: the secret dev_git_token), for \`refit init\``);
  if (process.env.REFIT_GIT_ALLOW_FILE === '1') console.log('  file://   local repositories allowed (REFIT_GIT_ALLOW_FILE=1; set it to 0 to refuse them)');
  if (kubernetes) {
    const { info, record } = kubernetes;
    console.log(`  Kubernetes ${info.server}, node ${info.node?.name} (pods on ${info.node?.podCidr}, Services on ${info.node?.serviceCidr})`);
    console.log(`  models    namespace "${record.namespace}", images in ${record.registry}/models`);
    console.log(
      kubernetes.buildRunner === 'kubernetes'
        ? `  builds    Jobs on the node, installing from ${kubernetes.workerEnv.REFIT_PIP_INDEX_URL}; pods reach only ${kubernetes.podHost} (serve your repository there, REFIT_GIT_ALLOW_HTTP_HOSTS=${kubernetes.podHost})`
        : '  builds    on this worker, pushed to the node (REFIT_BUILD_RUNNER=kubernetes builds in Jobs on the node)',
    );
    console.log(`  kubectl   KUBECONFIG=${record.kubeconfig} ${info.bin}/kubectl -n ${record.namespace} get pods`);
    console.log(`  written   ${kubernetes.recordFile}; the node's log ${kubernetes.logFile}`);
  }
  try {
    // The SDK's runtime shuts the worker down on SIGINT/SIGTERM, which ends run().
    await stack.worker.run();
  } finally {
    await git?.stop();
    await stack.stop();
    if (kubernetes) {
      console.log('stopping the Kubernetes node (its pods, network and mounts go with it) ...');
      await kubernetes.stop();
    }
    console.log('stopped');
    // Local model servers are detached from the worker on purpose: they outlive the stack, and the user should know.
    const serving = kubernetes ? [] : await stillServing(path.join(refitHome(), 'deployments'), path.join(packageRoot(), 'sdk', 'python')).catch(() => []);
    if (serving.length) {
      console.log('still serving (local model servers outlive the stack):');
      for (const line of serving) console.log(`  ${line}`);
      console.log('stop one with `refit undeploy <model>` while a dev stack runs (`refit dev`)');
    }
  }
}
