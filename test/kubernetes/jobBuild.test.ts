// Builds on the cluster (REFIT_BUILD_RUNNER=kubernetes) on the real node: each build is a Job whose pod clones
// from the token-checking git server, installs from a caching PyPI proxy, tests, trains and pushes to the node's
// registry; the deploy runs that image by digest. The git server and the proxy listen on the node's bridge
// address and are opened to pods, as a cluster's own git host and package mirror would be reachable.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { DEFAULT_JOB_SETTINGS, buildJobName, type JobBuildSettings } from '../../activities/build/kubernetes/buildJob.js';
import { KubernetesDeploymentTarget } from '../../activities/deploy/kubernetes/kubernetesTarget.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { allowPodsToReach } from '../../devstack/kubernetes/hostNetwork.js';
import { startPypiProxy, type PypiProxy } from '../../devstack/pypiProxy.js';
import { QueryNames, WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult } from '../../shared/runTypes.js';
import { GOOD_F1, POOR, POOR_F1, TOKEN, historyText, predict, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { uniqueTaskQueue } from '../harness/temporal.js';
import { startWorkerProcess } from '../harness/workerProcesses.js';
import * as fixtures from './targetFixture.js';
import { IMAGES, useTargetCluster } from './targetFixture.js';

const run = promisify(execFile);
const NAMESPACE = 'job-builds';
const API_KEY = 'build-api-key-5b1e0c93';
const REGISTRY_SECRET = 'registry-credentials';

describe('builds as Kubernetes Jobs on the real node', () => {
  const cluster = useTargetCluster();
  let fixture: Fixture;
  let proxy: PypiProxy;
  let settings: JobBuildSettings;
  let batch: BatchV1Api;
  let first: BuildDeployResult;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'refit-job-builds-'));

  beforeAll(async () => {
    const { kubeConfig, images, node } = cluster.kubernetes;
    batch = kubeConfig.makeApiClient(BatchV1Api);
    await fixtures.createNamespace(cluster, NAMESPACE);
    // Registry credentials as a platform team provides them (the node's registry asks for none, so any work).
    const auth = Buffer.from('refit-builds:not-a-real-password').toString('base64');
    await cluster.core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: REGISTRY_SECRET },
        type: 'kubernetes.io/dockerconfigjson',
        stringData: { '.dockerconfigjson': JSON.stringify({ auths: { [cluster.kubernetes.registry]: { auth } } }) },
      },
    });
    proxy = await startPypiProxy({ host: node.address, dir: path.join(scratch, 'pypi-proxy') });
    await allowPodsToReach({ nodeAddress: node.address }, proxy.port);
    settings = {
      ...DEFAULT_JOB_SETTINGS,
      namespace: NAMESPACE,
      runtimeImage: images.runtime!,
      imageRepository: IMAGES,
      pipIndexUrl: proxy.url,
      registrySecret: REGISTRY_SECRET,
      insecureRegistry: false,
    };
    fixture = await startFixture(
      'job-build',
      {
        deploymentTarget: new KubernetesDeploymentTarget({
          kubeConfig,
          namespace: NAMESPACE,
          imageRepository: IMAGES,
          pollMs: 250,
          imagePullSecret: REGISTRY_SECRET,
        }),
        buildRunner: { kind: 'kubernetes', kubeConfig, settings, pollMs: 500 },
        gitPolicy: { allowFile: false, allowHttpHosts: [node.address] },
      },
      { gitHost: node.address },
    );
    await allowPodsToReach({ nodeAddress: node.address }, fixture.git.port);
    const secrets = new LocalSecretStore(path.join(fixture.home, 'secrets'));
    // Scoped as an operator would: the token goes to this git server only, the key to these automations only.
    await secrets.set('git_token', TOKEN, { hosts: [new URL(fixture.git.url).host], automations: [] });
    await secrets.set('api_key', API_KEY, { hosts: [], automations: ['job-build-automation', 'job-restart-automation'] });
  }, 180_000);
  afterAll(async () => {
    await fixture?.close();
    await proxy?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const jobOf = (buildId: string) => batch.readNamespacedJob({ name: buildJobName(buildId), namespace: NAMESPACE });
  const buildAutomation = (change: (input: Record<string, any>) => void = () => undefined) =>
    fixture.automation((input) => {
      Object.assign(input.action.build_spec, {
        resources: { type: 'CpuResources', cpu_fraction: 1, memory: '1Gi' },
        env_vars: ['API_KEY=secret:api_key', 'MODE=cluster'],
      });
      Object.assign(input.action.deployment_spec, { cpu_fraction: 0.5, memory: '512Mi' });
      change(input);
    });

  it('builds in a Job pod with the requested resources, pushes, deploys the image by digest, and the model answers', async () => {
    const automation = buildAutomation();
    const workflowId = `job-build-first-${fixture.taskQueue}`;
    first = await fixture.run(automation, workflowId);
    expect(first).toMatchObject({
      deployed: true,
      git_commit: fixture.commit,
      metrics: { f1_score: GOOD_F1 },
      build: { tests: 'passed', image: expect.stringMatching(new RegExp(`^${IMAGES.replaceAll('.', '\\.')}/job-build@sha256:[0-9a-f]{64}$`)) },
    });

    const job = await jobOf(first.build_id);
    const pod = job.spec!.template.spec!;
    const build = pod.initContainers!.find((container) => container.name === 'build')!;
    expect(build.resources).toEqual({ requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } });
    // The run ends when the push container reports; the Job's own status follows.
    await waitForJob(
      () => first.build_id,
      (found) => found.status?.succeeded === 1,
    );
    expect(job.spec?.ttlSecondsAfterFinished).toBe(DEFAULT_JOB_SETTINGS.ttlSecondsAfterFinished);

    // No secret value in any object but Secrets, nor in the run's history.
    const objects = await fixtures.namespaceObjects(cluster, NAMESPACE);
    expect(objects.length).toBeGreaterThan(0);
    for (const kind of ['jobs', 'pods', 'configmaps', 'deployments', 'serviceaccounts', 'services']) {
      const { stdout } = await run(path.join(cluster.kubernetes.bin, 'kubectl'), [
        '--kubeconfig',
        cluster.kubernetes.kubeconfigPath,
        '-n',
        NAMESPACE,
        'get',
        kind,
        '-o',
        'json',
      ]);
      expect(stdout).not.toContain(API_KEY);
      expect(stdout).not.toContain(TOKEN);
      expect(stdout).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    }
    const history = await historyText(fixture, workflowId);
    expect(history).not.toContain(API_KEY);
    expect(history).not.toContain(TOKEN);

    // The pod's log came back into the build log, with the secret masked.
    const log = readFileSync(first.build!.log_file, 'utf8');
    expect(log).toMatch(/container clone ==\ncloned /);
    expect(log).toMatch(/installing main\/requirements\.txt from http:\/\//);
    expect(log).toContain(`pushed ${IMAGES}/job-build@`);
    expect(log).not.toContain(API_KEY);

    const deployment = await cluster.apps.readNamespacedDeployment({ name: 'job-build-default', namespace: NAMESPACE });
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(first.build?.image);
    expect(deployment.spec?.template.spec?.imagePullSecrets).toEqual([{ name: REGISTRY_SECRET }]);
    expect(pod.imagePullSecrets).toEqual([{ name: REGISTRY_SECRET }]);
    const url = await fixtures.serviceAddress(cluster, NAMESPACE, 'job-build');
    let answer: Awaited<ReturnType<typeof predict>> | undefined;
    for (let attempt = 0; attempt < 40 && answer?.status !== 200; attempt++) {
      answer = await predict(url, 'job-build').catch(() => undefined);
      if (answer?.status !== 200) await sleep(500);
    }
    expect(answer).toEqual({ status: 200, data: [0, 1], variation: 'default', build: first.build_id });
  }, 900_000);

  it('a second build with the same dependencies pushes only the model layer, and a failing threshold pushes but does not deploy', async () => {
    const before = await cluster.apps.readNamespacedDeployment({ name: 'job-build-default', namespace: NAMESPACE });
    const poor = await fixture.run(
      buildAutomation((input) => {
        input.action.build_spec.env_vars.push(...POOR);
        input.action.deployment_condition.threshold = '0.95';
      }),
    );
    expect(poor).toMatchObject({ deployed: false, metrics: { f1_score: POOR_F1 }, condition: { passed: false }, build: { environment_reused: true } });
    expect(poor.build?.image).toMatch(/@sha256:/);
    const crane = path.join(cluster.kubernetes.bin, 'crane');
    const layers = async (image: string) =>
      (JSON.parse((await run(crane, ['manifest', image])).stdout) as { layers: { digest: string; size: number }[] }).layers;
    const [firstLayers, poorLayers] = await Promise.all([layers(first.build!.image!), layers(poor.build!.image!)]);
    expect(poorLayers.length).toBe(firstLayers.length);
    expect(poorLayers.slice(0, -1)).toEqual(firstLayers.slice(0, -1));
    expect(poorLayers.at(-1)!.digest).not.toBe(firstLayers.at(-1)!.digest);
    // The dependency layer is the big one; the model layer is what a second build sends.
    expect(poorLayers.at(-1)!.size).toBeLessThan(firstLayers.at(-2)!.size / 10);
    const after = await cluster.apps.readNamespacedDeployment({ name: 'job-build-default', namespace: NAMESPACE });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  }, 600_000);

  it('with push_image: false the Job builds, tests and reports the metrics, pushes nothing, and the run says why it did not deploy', async () => {
    // Also an instance size and an IAM role: the pod must land on a node labelled with that instance type, under its own ServiceAccount.
    const role = 'arn:aws:iam::123456789012:role/job-build-training';
    const nodeName = cluster.kubernetes.node.name;
    const label = (value: string | null) =>
      cluster.core.patchNode(
        { name: nodeName, body: { metadata: { labels: { [DEFAULT_JOB_SETTINGS.instanceNodeLabel]: value } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await label('small');
    let result: BuildDeployResult;
    try {
      result = await fixture.run(
        buildAutomation((input) =>
          Object.assign(input.action.build_spec, { push_image: false, resources: { type: 'ClientResources', instance: 'small' }, assumed_iam_role: role }),
        ),
      );
    } finally {
      await label(null);
    }
    const job = await jobOf(result.build_id);
    const pod = job.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ [DEFAULT_JOB_SETTINGS.instanceNodeLabel]: 'small' });
    expect(pod.initContainers!.find((container) => container.name === 'build')!.resources!.limits).toEqual({ cpu: '1', memory: '2Gi' });
    const account = await cluster.core.readNamespacedServiceAccount({ name: pod.serviceAccountName!, namespace: NAMESPACE });
    expect(account.metadata?.annotations?.['eks.amazonaws.com/role-arn']).toBe(role);
    expect(account.metadata?.ownerReferences?.map((owner) => owner.kind)).toEqual(['Job']);
    expect(result).toMatchObject({ deployed: false, metrics: { f1_score: GOOD_F1 }, condition: { passed: true }, deployments: [], build: { tests: 'passed' } });
    expect(result.reason).toBe(`not deployed: push_image is false, so build ${result.build_id} pushed no image for the deploy to run`);
    await expect(run(path.join(cluster.kubernetes.bin, 'crane'), ['digest', `${IMAGES}/job-build:${result.build_id}`])).rejects.toThrow();
    await waitForJob(
      () => result.build_id,
      (found) => found.status?.succeeded === 1,
    );
  }, 300_000);

  it('a base_image that cannot be pulled fails the build at once, naming the container and the image, and leaves no Job', async () => {
    const missing = `${IMAGES}/no-such-base:1`;
    const failure = await fixture.runFailing(buildAutomation((input) => Object.assign(input.action.build_spec, { base_image: missing })));
    expect(failure.message).toMatch(
      new RegExp(`the build's clone container cannot start \\((ErrImagePull|ImagePullBackOff) for image ${missing.replaceAll('.', '\\.')}\\)`),
    );
    const { items: jobs } = await batch.listNamespacedJob({ namespace: NAMESPACE });
    const left = jobs.filter((job) => job.spec?.template.spec?.containers[0]?.image === missing && !job.metadata?.deletionTimestamp);
    expect(left).toEqual([]);
  }, 300_000);

  async function waitForJob(buildId: () => string | undefined, what: (job: V1Job) => boolean): Promise<V1Job> {
    for (let attempt = 0; attempt < 600; attempt++) {
      const id = buildId();
      const job = id ? await jobOf(id).catch(() => undefined) : undefined;
      if (job && what(job)) return job;
      await sleep(500);
    }
    throw new Error('the build Job never got there');
  }

  async function buildIdOf(workflowId: string): Promise<string | undefined> {
    const status = (await fixture.server.client.workflow
      .getHandle(workflowId)
      .query(QueryNames.status)
      .catch(() => undefined)) as { build_id?: string } | undefined;
    return status?.build_id;
  }

  it("cancelling the run deletes its Job and the Job's pod", async () => {
    // A model whose training takes minutes, so that the run is cancelled while its Job runs.
    const slow = path.join(scratch, 'slow-repo');
    mkdirSync(path.join(slow, 'models', 'slow', 'main'), { recursive: true });
    writeFileSync(
      path.join(slow, 'models', 'slow', 'main', 'model.py'),
      'import time\nfrom refit_sdk import RefitModel\n\nclass Slow(RefitModel):\n    def build(self):\n        time.sleep(600)\n\n    def predict(self, rows):\n        return rows\n',
    );
    await fixture.git.publish('slow', slow);
    const automation = buildAutomation((input) => {
      input.action.build_spec.git_uri = `${fixture.git.url}/slow.git#models/slow`;
    });
    const handle = await fixture.server.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue: fixture.taskQueue,
      workflowId: `job-build-cancel-${fixture.taskQueue}`,
      args: [{ automation, trigger: { kind: 'manual' } }],
    });
    let buildId: string | undefined;
    for (let attempt = 0; attempt < 120 && !buildId; attempt++) {
      buildId = await buildIdOf(handle.workflowId);
      if (!buildId) await sleep(250);
    }
    await waitForJob(
      () => buildId,
      (job) => (job.status?.active ?? 0) > 0,
    );
    // The pod's log reaches the build log while the build runs (what `refit logs <build>` reads).
    const logFile = path.join(fixture.home, 'builds', buildId!, 'build.log');
    const logged = () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('building (training) the model');
    for (let attempt = 0; attempt < 240 && !logged(); attempt++) await sleep(250);
    expect(readFileSync(logFile, 'utf8')).toMatch(/container build ==[\s\S]*building \(training\) the model/);
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    for (let attempt = 0; attempt < 120; attempt++) {
      const job = await jobOf(buildId!).catch(() => undefined);
      const { items: pods } = await cluster.core.listNamespacedPod({
        namespace: NAMESPACE,
        labelSelector: `batch.kubernetes.io/job-name=${buildJobName(buildId!)}`,
      });
      if (!job && pods.length === 0) return;
      await sleep(500);
    }
    throw new Error(`the Job of the cancelled build ${buildId} (or its pod) is still there`);
  }, 300_000);

  it('a worker killed mid-build comes back to the same Job: one Job, one deploy', async () => {
    const { kubeconfigPath, images, node } = cluster.kubernetes;
    const home = fixture.home;
    const taskQueue = uniqueTaskQueue('job-restart');
    const env = {
      REFIT_DEPLOY_TARGET: 'kubernetes',
      REFIT_BUILD_RUNNER: 'kubernetes',
      KUBECONFIG: kubeconfigPath,
      REFIT_KUBE_NAMESPACE: NAMESPACE,
      REFIT_IMAGE_REPOSITORY: IMAGES,
      REFIT_RUNTIME_IMAGE: images.runtime!,
      REFIT_PIP_INDEX_URL: proxy.url,
      REFIT_GIT_ALLOW_HTTP_HOSTS: node.address,
      REFIT_WORKER_ID: 'job-restart-worker',
    };
    const logFile = path.join(scratch, 'worker.log');
    let worker = await startWorkerProcess({ taskQueue, home, venvCache: path.join(scratch, 'venvs'), logFile, env });
    try {
      const automation = buildAutomation((input) => {
        input.model_id = 'job-restart';
        input.name = 'job-restart-automation';
      });
      const handle = await fixture.server.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
        taskQueue,
        workflowId: `job-restart-${taskQueue}`,
        args: [{ automation, trigger: { kind: 'manual' } }],
      });
      let buildId: string | undefined;
      for (let attempt = 0; attempt < 120 && !buildId; attempt++) {
        buildId = await buildIdOf(handle.workflowId);
        if (!buildId) await sleep(250);
      }
      const job = await waitForJob(
        () => buildId,
        (found) => (found.status?.active ?? 0) > 0,
      );
      worker.child.kill('SIGKILL');
      await worker.exited;
      worker = await startWorkerProcess({ taskQueue, home, venvCache: path.join(scratch, 'venvs'), logFile, env });
      const result = await handle.result();
      expect(result).toMatchObject({ deployed: true, build_id: buildId, deployments: [{ variation: 'default', changed: true }] });
      const { items: jobs } = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: `refit.dev/model=job-restart` });
      expect(jobs.map((found) => [found.metadata?.name, found.metadata?.uid])).toEqual([[job.metadata?.name, job.metadata?.uid]]);
      const replicaSets = await cluster.apps.listNamespacedReplicaSet({ namespace: NAMESPACE, labelSelector: 'refit.dev/model=job-restart' });
      expect(replicaSets.items).toHaveLength(1);
      expect(readFileSync(result.build!.log_file, 'utf8')).toContain(`attached to Job ${NAMESPACE}/${job.metadata?.name}`);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 900_000);
});
