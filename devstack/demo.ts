// `make demo`: the first thing a new user tries. On the embedded stack it serves the example model's
// repository on a git server that demands a token, registers the example automations (a weekly cron like
// the seed's, an hourly champion/challenger, a metric trigger), runs one now and follows it to a deployed
// model, asks that model for a prediction, lets the metric trigger fire, prints the history and the Web UI
// links, and stops everything it started. Its state lives in $REFIT_HOME/demo, on its own task queue, so it
// never mixes with your own automations. `make demo-kubernetes` (--kubernetes) does the same on this
// machine's single-node Kubernetes cluster: each build is a Job on the node (clone, install from a caching
// PyPI proxy, tests, training, push to the node's registry) and the model answers from a pod, through its Service.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopAllLocalServing } from '../activities/deploy/local/localTarget.js';
import { LocalSecretStore } from '../activities/secrets/localSecretStore.js';
import { listCommand, registerCommand } from '../client/commands/automations.js';
import { historyCommand, runCommand } from '../client/commands/runs.js';
import { validateCommand } from '../client/commands/validate.js';
import { paint } from '../client/output.js';
import { RefitClient } from '../client/refitClient.js';
import { scheduleIdOf } from '../client/schedules.js';
import type { MetricTriggerCheckResult } from '../shared/operations.js';
import { startEmbeddedStack } from './embeddedStack.js';
import { predict, serviceAddress } from './exampleRequests.js';
import { startGitServer } from './gitServer.js';
import { startKubernetesDev, type KubernetesDev } from './kubernetesDev.js';
import { packageRoot, refitHome } from '../platform/paths.js';

const TASK_QUEUE = 'refit-demo';
const DEMO_GIT_PORT = 8290;
const EXAMPLES = path.join(packageRoot(), 'examples');
const onKubernetes = process.argv.includes('--kubernetes');

function heading(text: string): void {
  console.log(`\n${paint('bold', paint('cyan', `▸ ${text}`))}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const home = path.join(refitHome(), 'demo');
  // The model's environments are cached across demos (and shared with the rest of this machine's Refit).
  process.env.REFIT_VENV_CACHE ??= path.join(refitHome(), 'venvs');
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  let kubernetes: KubernetesDev | undefined;
  if (onKubernetes) {
    heading("Starting this machine's single-node Kubernetes cluster: API server, scheduler, controllers, containerd and a kubelet");
    kubernetes = await startKubernetesDev({
      namespace: 'refit-demo',
      purpose: `make demo-kubernetes (pid ${process.pid})`,
      lockWaitMs: 10 * 60_000,
      buildRunner: 'kubernetes',
    });
    Object.assign(process.env, kubernetes.workerEnv);
    const { info } = kubernetes;
    console.log(`  ${info.server}, node ${info.node?.name} on ${info.node?.address}; models in namespace "refit-demo", images in ${info.registry}/models`);
    console.log(`  look with: KUBECONFIG=${info.kubeconfig} ${info.bin}/kubectl -n refit-demo get pods`);
  }
  try {
    await runDemo(home, started, kubernetes);
  } finally {
    if (kubernetes) {
      heading('Stopping the Kubernetes node');
      await kubernetes.stop();
      console.log("  pods, containers, mounts, the bridge and the node's iptables rules are gone; sysctls restored");
    }
  }
}

async function runDemo(home: string, started: number, kubernetes: KubernetesDev | undefined): Promise<void> {
  heading('Starting the embedded stack: a Temporal dev server (with its Web UI) and a Refit worker');
  const stack = await startEmbeddedStack({ taskQueue: TASK_QUEUE, home });
  const running = stack.worker.run();
  // The commands below are the real `refit` CLI's, talking to this stack.
  process.env.TEMPORAL_ADDRESS = stack.server.address;
  process.env.REFIT_TASK_QUEUE = TASK_QUEUE;
  const token = randomBytes(16).toString('hex');
  // On the node's bridge address when builds run there: the build pods clone from it.
  const git = await startGitServer(token, DEMO_GIT_PORT, kubernetes?.podHost);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'refit-demo-'));
  const refit = new RefitClient(stack.client, TASK_QUEUE);
  const names: string[] = [];
  try {
    await kubernetes?.openToPods(git.port);
    console.log(`  Temporal ${stack.server.address}${stack.ownsServer ? '' : ' (the one `make dev` runs)'}, Web UI ${stack.server.uiUrl}`);

    heading('Serving the example model repository on a git server that demands a token');
    const commit = await git.publish('model-repo', path.join(EXAMPLES, 'model-repo'));
    // Scoped as a platform team would: sent only to this git server, used only by the demo's automations.
    const scope = { hosts: [new URL(git.url).host], automations: ['weekly-retrain', 'hourly-challenger', 'precision-drift'] };
    await new LocalSecretStore(path.join(home, 'secrets')).set('demo_git_token', token, scope);
    console.log(`  ${git.url}/model-repo.git at ${commit.slice(0, 10)}; its token is stored as the secret demo_git_token,`);
    console.log(`  scoped to ${scope.hosts[0]} and the automations ${scope.automations.join(', ')}`);
    console.log('  (automations name the secret; the token itself never enters a definition, a log or the history)');

    heading('Writing model analytics: daily precision of the served model, dropping below 0.9');
    await writeAnalytics(path.join(home, 'analytics.duckdb'));
    console.log(`  ${path.join(home, 'analytics.duckdb')}: daily_precision over the last 3 days averages 0.86`);

    heading('Validating examples/automations');
    const definitions = pointAt(git.url, scratch);
    names.push(...readdirSync(definitions).map((file) => file.replace(/\.yaml$/, '')));
    await validateCommand([path.relative(process.cwd(), path.join(EXAMPLES, 'automations')) || '.'], {});

    heading('Registering them: one Temporal Schedule each');
    await registerCommand([definitions], {});
    await listCommand({});

    heading(
      kubernetes
        ? "Running weekly-retrain now: a build Job on the node clones, installs, tests, trains and pushes the image to the node's registry; then it rolls out as a pod (the first build installs scikit-learn and pushes it, once)"
        : 'Running weekly-retrain now (the first build also installs scikit-learn, once)',
    );
    const runExit = await runCommand('weekly-retrain', { wait: true });
    if (runExit !== 0) throw new Error('the run of weekly-retrain failed: see above');

    heading('Asking the deployed model for a prediction (Open Inference Protocol v2)');
    const [last] = await refit.history('weekly-retrain', 1);
    const url = kubernetes
      ? await serviceAddress(kubernetes.record.kubeconfig, kubernetes.record.namespace, 'breast-cancer')
      : await fetchServing(home, 'breast-cancer');
    const answer = await predict(url, 'breast-cancer');
    console.log(`  POST ${url}/v2/models/breast-cancer/infer with two patients' 30 features${kubernetes ? " (the Service's ClusterIP, via kube-proxy)" : ''}`);
    console.log(`  → ${JSON.stringify(answer.outputs)}  (0: malignant, 1: benign; build ${last?.buildId})`);
    if (kubernetes) console.log(`prediction from pod ${answer.pod}: ${JSON.stringify(answer.outputs)}`);

    heading('Letting precision-drift check its metric now (normally every 15 minutes)');
    const check = await triggerCheck(refit, 'precision-drift');
    console.log(`  ${check.reason}`);
    if (check.build_workflow_id) {
      const result = (await stack.client.workflow.getHandle(check.build_workflow_id).result()) as { reason: string };
      console.log(`  that build: ${result.reason}`);
    }

    heading("History of the demo's runs");
    await historyCommand(undefined, {});

    heading('Where to look');
    const ui = `${stack.server.uiUrl}/namespaces/${stack.server.namespace}`;
    console.log(`  Web UI, all runs:  ${ui}/workflows`);
    console.log(`  the runs of weekly-retrain:  ${ui}/workflows?query=${encodeURIComponent("RefitAutomation='weekly-retrain'")}`);
    console.log(`  its schedule:  ${ui}/schedules/${scheduleIdOf('weekly-retrain')}`);
    if (stack.ownsServer) console.log('  (the server stops with the demo; `make dev` brings it back with these runs in it)');
    console.log(
      `\n${paint('green', `Demo finished in ${Math.round((Date.now() - started) / 1000)} s.`)} Next: write your own automation (README: "Writing automations"), then \`refit validate\` and \`refit register\` it.`,
    );
  } finally {
    heading('Stopping what the demo started');
    // The demo's schedules would fire later against a git server that is gone: remove them (their runs stay).
    for (const name of names) await refit.delete(name).catch(() => undefined);
    if (!kubernetes) await stopAllLocalServing(path.join(home, 'deployments'));
    await git.stop();
    stack.worker.shutdown();
    await running;
    await stack.stop();
    rmSync(scratch, { recursive: true, force: true });
    console.log(`  schedules deleted, ${kubernetes ? '' : 'model servers, '}git server, worker and Temporal stopped`);
  }
}

/** The example definitions, with git_uri pointed at the demo's git server (its port may differ from the files'). */
function pointAt(gitUrl: string, scratch: string): string {
  const folder = path.join(scratch, 'automations');
  mkdirSync(folder, { recursive: true });
  const source = path.join(EXAMPLES, 'automations');
  for (const file of readdirSync(source).filter((name) => name.endsWith('.yaml'))) {
    const text = readFileSync(path.join(source, file), 'utf8').replaceAll(`http://127.0.0.1:${DEMO_GIT_PORT}`, gitUrl);
    writeFileSync(path.join(folder, file), text);
  }
  return folder;
}

async function writeAnalytics(file: string): Promise<void> {
  rmSync(file, { force: true });
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  await connection.run('CREATE TABLE daily_precision (day DATE, precision DOUBLE)');
  await connection.run('INSERT INTO daily_precision VALUES (current_date - 3, 0.91), (current_date - 2, 0.86), (current_date - 1, 0.81)');
  connection.closeSync();
  instance.closeSync();
}

async function fetchServing(home: string, modelId: string): Promise<string> {
  const state = JSON.parse(readFileSync(path.join(home, 'deployments', 'default', modelId, 'state.json'), 'utf8')) as { router: { port: number } };
  return `http://127.0.0.1:${state.router.port}`;
}

/** Asks a metric trigger's schedule to check now and returns that check's outcome. */
async function triggerCheck(refit: RefitClient, name: string): Promise<MetricTriggerCheckResult> {
  const schedule = refit.client.schedule.getHandle(scheduleIdOf(name));
  const before = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  for (;;) {
    const actions = (await schedule.describe()).info.recentActions;
    if (actions.length > before) return refit.client.workflow.getHandle(actions.at(-1)!.action.workflow.workflowId).result();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(paint('red', `demo failed: ${err instanceof Error ? err.message : String(err)}`));
    process.exit(1);
  },
);
