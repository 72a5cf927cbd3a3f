// Figure 7: builds on the cluster, on this machine's real node: from a git push to the model answering through
// its Service, split by step, with each build a Job (REFIT_BUILD_RUNNER=kubernetes) that clones, installs from
// the caching PyPI proxy, tests, trains and pushes; and the bytes a later build pushes against the artifact's
// own size (its dependency layer is in the registry already). Needs root and a node (`node: ready`).
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { NativeConnection } from '@temporalio/worker';
import { buildJobName } from '../../activities/build/kubernetes/buildJob.js';
import { containerStatusesOf } from '../../activities/build/kubernetes/jobBuildRunner.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { predict, serviceAddress } from '../../devstack/exampleRequests.js';
import { startGitServer } from '../../devstack/gitServer.js';
import { startKubernetesDev } from '../../devstack/kubernetesDev.js';
import { packageRoot } from '../../platform/paths.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult } from '../../shared/runTypes.js';
import { validateAutomation } from '../../spec/validate.js';
import { RefitWorker } from '../../worker/createWorker.js';
import { defaultDependencies } from '../../worker/dependencies.js';
import { onCleanup } from '../lib/cleanup.js';
import { stepShares, timelineOf } from '../lib/history.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs } from '../lib/stats.js';

const run = promisify(execFile);
const MODEL = 'bench-node';
const TOKEN = 'bench-node-token-2a7c';

interface BuildTrial {
  pushToServingS: number;
  runS: number;
  steps: Record<string, number>;
  servingAfterRunS: number;
  pushedBytes: number;
  artifactBytes: number;
  dependencies: 'pushed' | 'reused';
}

/** Where the build pod's time went: waiting to start (scheduling, image pulls) and each container, from its status (1 s resolution). */
async function podParts(kubeconfig: string, namespace: string, buildId: string): Promise<Record<string, number>> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  const { items } = await kubeConfig
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${buildJobName(buildId)}` });
  const pod = items[0];
  const parts: Record<string, number> = {};
  if (!pod) return parts;
  const statuses = containerStatusesOf(pod);
  const time = (value: Date | string | undefined) => (value ? new Date(value).getTime() : Number.NaN);
  const firstStart = time(statuses[0]?.state?.terminated?.startedAt);
  parts['  in the Job: pod created → first container'] = (firstStart - time(pod.metadata?.creationTimestamp)) / 1000;
  for (const status of statuses) {
    const terminated = status.state?.terminated;
    if (terminated) parts[`  in the Job: container ${status.name}`] = (time(terminated.finishedAt) - time(terminated.startedAt)) / 1000;
  }
  return parts;
}

/** Layers and config of an image, by digest and size, as the registry holds them. */
async function blobsOf(crane: string, image: string): Promise<Map<string, number>> {
  const manifest = JSON.parse((await run(crane, ['manifest', image])).stdout) as {
    config: { digest: string; size: number };
    layers: { digest: string; size: number }[];
  };
  return new Map([manifest.config, ...manifest.layers].map((blob) => [blob.digest, blob.size]));
}

export async function nodeBuildFigure(stack: BenchStack, options: { builds: number }): Promise<Omit<FigureResult, 'durationS'>> {
  const kubernetes = await startKubernetesDev({
    namespace: 'refit-bench',
    purpose: 'make bench (builds on the node)',
    buildRunner: 'kubernetes',
    lockWaitMs: 10 * 60_000,
  });
  const stopNode = onCleanup('the Kubernetes node', () => kubernetes.stop());
  const git = await startGitServer(TOKEN, 0, kubernetes.podHost);
  const stopGit = onCleanup('the node figure git server', () => git.stop());
  try {
    await kubernetes.openToPods(git.port);
    const repository = path.join(stack.stateDir, 'node-model-repo');
    cpSync(path.join(packageRoot(), 'examples', 'model-repo'), repository, { recursive: true });
    await git.publish('models', repository);
    const home = path.join(stack.stateDir, 'node-home');
    await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', TOKEN, { hosts: [new URL(git.url).host], automations: [] });

    // The worker reads its settings from the environment, as `make demo-kubernetes` starts it.
    const saved = { ...process.env };
    Object.assign(process.env, kubernetes.workerEnv);
    const taskQueue = 'bench-node';
    const dependencies = await defaultDependencies({ taskQueue, home }).finally(() => {
      process.env = saved;
    });
    const connection = await NativeConnection.connect({ address: stack.server.address });
    const worker = await RefitWorker.create({
      connection,
      namespace: stack.server.namespace,
      taskQueue,
      dependencies,
      workflowBundle: { codePath: stack.workflowBundlePath },
    });
    const running = worker.run();
    const stopWorker = onCleanup('the node figure worker', async () => {
      worker.shutdown();
      await running;
      await connection.close();
    });
    const validated = validateAutomation({
      name: 'bench-node-automation',
      model_id: MODEL,
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: {
          git_uri: `${git.url}/models.git#models/breast_cancer`,
          git_access_token_secret: 'git_token',
          resources: { type: 'CpuResources', cpu_fraction: 1, memory: '1Gi' },
        },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: { number_of_pods: 1, cpu_fraction: 0.5, memory: '512Mi', deployment_process_timeout_limit: 120 },
      },
    });
    if (!validated.ok) throw new Error(`the figure's automation is invalid: ${JSON.stringify(validated.errors)}`);
    const crane = path.join(kubernetes.info.bin, 'crane');
    const trials: BuildTrial[] = [];
    let previousImage: string | undefined;
    for (let index = 0; index < options.builds; index++) {
      // A push that changes the model's code (so its artifact), not its dependencies.
      writeFileSync(path.join(repository, 'models', 'breast_cancer', 'main', 'bench_revision.py'), `REVISION = ${index}\n`);
      const pushedAt = nowMs();
      await git.publish('models', repository);
      const handle = await stack.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
        taskQueue,
        workflowId: `bench-node-${Date.now()}-${index}`,
        args: [{ automation: validated.automation, trigger: { kind: 'manual' } }],
      });
      const result = await handle.result();
      const ranAt = nowMs();
      if (!result.deployed || !result.build?.image) throw new Error(`build ${index} did not deploy: ${result.reason}`);
      const url = await serviceAddress(kubernetes.record.kubeconfig, kubernetes.record.namespace, MODEL);
      for (let attempt = 0; ; attempt++) {
        const answer = await predict(url, MODEL).catch(() => undefined);
        if (answer?.build === result.build_id) break;
        if (attempt > 240) throw new Error(`build ${result.build_id} never answered through the Service`);
        await sleep(250);
      }
      const servedAt = nowMs();
      const steps: Record<string, number> = {};
      const shares = stepShares(timelineOf(await handle.fetchHistory()));
      for (const share of shares) steps[`step ${share.activity}`] = (steps[`step ${share.activity}`] ?? 0) + share.wallMs / 1000;
      const stepsEnd = shares.reduce((sum, share) => sum + share.wallMs, 0) / 1000;
      // The steps include the promotion (the child workflow promoteBuild: the rollout until the new pod is ready);
      // what is left is the run's start after the push and its finish after the last step.
      steps['outside the steps (start after the push, finish)'] = (ranAt - pushedAt) / 1000 - stepsEnd;
      Object.assign(steps, await podParts(kubernetes.record.kubeconfig, kubernetes.record.namespace, result.build_id));
      const blobs = await blobsOf(crane, result.build.image);
      const before = previousImage ? await blobsOf(crane, previousImage) : new Map<string, number>();
      const manifestBytes = Buffer.byteLength((await run(crane, ['manifest', result.build.image])).stdout);
      const pushedBytes = [...blobs].filter(([digest]) => !before.has(digest)).reduce((sum, [, size]) => sum + size, manifestBytes);
      const log = readFileSync(result.build.log_file, 'utf8');
      trials.push({
        pushToServingS: (servedAt - pushedAt) / 1000,
        runS: (ranAt - pushedAt) / 1000,
        steps,
        servingAfterRunS: (servedAt - ranAt) / 1000,
        pushedBytes,
        artifactBytes: Number(/pushing the model layer \((\d+) bytes unpacked\)/.exec(log)?.[1] ?? Number.NaN),
        dependencies: /pushing the dependency layer/.test(log) ? 'pushed' : 'reused',
      });
      previousImage = result.build.image;
    }
    await stopWorker();
    const later = trials.slice(1);
    const row = (label: string, unit: Measurement['unit'], values: number[], note?: string): Measurement => ({
      label,
      unit,
      values,
      ...(note ? { note } : {}),
    });
    const stepNames = [...new Set(later.flatMap((trial) => Object.keys(trial.steps)))];
    return {
      id: 'node-build',
      title: '7. Builds on the node: git push to serving, and bytes pushed',
      method:
        `${options.builds} pushes of the example model (a new file in its main/ each time, dependencies unchanged) to a token-checking git server on the node's bridge ` +
        "address; each starts a BuildDeploy run whose build is a Kubernetes Job (clone, install from a caching PyPI proxy, tests, training, push to the node's " +
        'registry) and whose deploy rolls the image out by digest; timed until the model answers with the new build through its Service. The first build ' +
        '(which pushes the dependency layer) is reported apart; the rows are the later ones. Bytes pushed: the blobs of the new image the previous image did not ' +
        "have, plus its manifest, against the artifact's own size (its layer's tar before compression).",
      tables: [
        {
          title: 'git push → model serving (later builds)',
          rows: [
            row(
              'push → serving',
              's',
              later.map((trial) => trial.pushToServingS),
            ),
            row(
              'push → run finished',
              's',
              later.map((trial) => trial.runS),
            ),
            ...stepNames.map((name) =>
              row(
                `  ${name}`,
                's',
                later.map((trial) => trial.steps[name] ?? 0),
              ),
            ),
            row(
              'run finished → answering with the new build',
              's',
              later.map((trial) => trial.servingAfterRunS),
            ),
          ],
        },
        {
          title: 'bytes a build pushes',
          rows: [
            row('first build: pushed', 'MiB', [trials[0]!.pushedBytes / 2 ** 20], `dependency layer ${trials[0]!.dependencies}`),
            row(
              'later builds: pushed',
              'MiB',
              later.map((trial) => trial.pushedBytes / 2 ** 20),
            ),
            row(
              'later builds: the artifact itself',
              'MiB',
              later.map((trial) => trial.artifactBytes / 2 ** 20),
            ),
            row(
              'later builds: pushed / artifact (target ≤ 1.2)',
              'x',
              later.map((trial) => trial.pushedBytes / trial.artifactBytes),
            ),
          ],
        },
      ],
      notes: [
        `first build: push → serving ${trials[0]!.pushToServingS.toFixed(1)} s (its dependency layer ${trials[0]!.dependencies}; the PyPI proxy's cache may already hold the wheels from an earlier run)`,
        "The artifact layer is compressed by crane, so the bytes pushed can be below the artifact's own size.",
      ],
      details: { trials },
    };
  } finally {
    await stopGit();
    await stopNode();
  }
}
