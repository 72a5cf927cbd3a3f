// The worker as a service in the cluster, on the real node: its image made by scripts/build-worker-image.sh (no
// Docker engine), deploy/kubernetes/worker.yaml applied as a user would apply it (with their image, settings and
// Temporal connection filled in), the pod ready through its health endpoint, and then a whole run done by that pod:
// clone from the git server, a build Job, the image pushed, the model deployed in the worker's namespace, answering.
// Temporal, the git server and the PyPI proxy run on this machine; pods reach them on the node's bridge address.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1ConfigMap, type V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesSecretStore.js';
import { RefitClient } from '../../client/refitClient.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { allowPodsToReach } from '../../devstack/kubernetes/hostNetwork.js';
import { pushImage } from '../../devstack/kubernetes/registry.js';
import { startPypiProxy, type PypiProxy } from '../../devstack/pypiProxy.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { validateAutomation } from '../../spec/validate.js';
import { MODEL_FOLDER, TOKEN } from '../harness/buildDeployFixture.js';
import { readRunState } from '../harness/runState.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';
import * as fixtures from './targetFixture.js';
import { askThroughService, IMAGES, useTargetCluster } from './targetFixture.js';

const run = promisify(execFile);
const NAMESPACE = 'refit';

describe('the worker in the cluster', () => {
  const cluster = useTargetCluster();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'refit-in-cluster-'));
  const taskQueue = uniqueTaskQueue('in-cluster');
  let git: GitServer;
  let proxy: PypiProxy;
  let temporalForwarder: net.Server;
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  let commit: string;

  beforeAll(async () => {
    const { node, kubeConfig, bin, images } = cluster.kubernetes;
    await fixtures.createNamespace(cluster, NAMESPACE);
    const { stdout } = await run('bash', [path.join(packageRoot(), 'scripts', 'build-worker-image.sh')], { maxBuffer: 1 << 20 });
    const tarball = stdout.trim().split('\n').at(-1)!;
    const workerImage = `${cluster.kubernetes.registry}/refit-worker:${path.basename(tarball, '.tar').replace(/^refit-worker-/, '')}`;
    await pushImage(bin, tarball, workerImage);

    // What a cluster would have on its network: Temporal, a git host, a package mirror.
    const temporal = readRunState().address;
    temporalForwarder = forward(node.address, temporal);
    await new Promise((resolve) => temporalForwarder.once('listening', resolve));
    const temporalPort = (temporalForwarder.address() as net.AddressInfo).port;
    await allowPodsToReach({ nodeAddress: node.address }, temporalPort);
    git = await startGitServer(TOKEN, 0, node.address);
    commit = await git.publish('models', path.join(packageRoot(), 'examples', 'model-repo'));
    await allowPodsToReach({ nodeAddress: node.address }, git.port);
    proxy = await startPypiProxy({ host: node.address, dir: path.join(scratch, 'pypi-proxy') });
    await allowPodsToReach({ nodeAddress: node.address }, proxy.port);
    // The git token as an operator stores it for this worker: a Kubernetes Secret, scoped to the git host.
    await new KubernetesSecretStore({ kubeConfig, namespace: NAMESPACE }).set('git_token', TOKEN, { hosts: [new URL(git.url).host], automations: [] });

    const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    await cluster.core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: { metadata: { name: 'refit-temporal' }, stringData: { TEMPORAL_ADDRESS: `${node.address}:${temporalPort}`, TEMPORAL_NAMESPACE: 'default' } },
    });
    const manifests = parseAllDocuments(readFileSync(path.join(packageRoot(), 'deploy', 'kubernetes', 'worker.yaml'), 'utf8')).map(
      (document) => document.toJS() as KubernetesObject,
    );
    for (const object of manifests) {
      if (object.kind === 'ConfigMap') {
        Object.assign((object as V1ConfigMap).data!, {
          REFIT_RUNTIME_IMAGE: images.runtime!,
          REFIT_IMAGE_REPOSITORY: IMAGES,
          REFIT_PIP_INDEX_URL: proxy.url,
          REFIT_GIT_ALLOW_HTTP_HOSTS: node.address,
          REFIT_TASK_QUEUE: taskQueue,
        });
      }
      if (object.kind === 'Deployment') (object as V1Deployment).spec!.template.spec!.containers[0]!.image = workerImage;
      await objects.patch(object, undefined, undefined, 'refit-test', true, PatchStrategy.ServerSideApply);
    }
    server = await connectToTestServer();
  }, 600_000);
  afterAll(async () => {
    temporalForwarder?.close();
    await git?.stop();
    await proxy?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('becomes ready through its health endpoint, then builds and deploys a model from inside the cluster', async () => {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const deployment = await cluster.apps.readNamespacedDeployment({ name: 'refit-worker', namespace: NAMESPACE });
      if ((deployment.status?.readyReplicas ?? 0) >= 1) break;
      if (Date.now() > deadline) throw new Error(`the worker pod was not ready within 180 s:\n${await podStory(cluster)}`);
      await sleep(1000);
    }
    const validated = validateAutomation({
      name: 'in-cluster',
      model_id: 'in-cluster',
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: {
          git_uri: `${git.url}/models.git#${MODEL_FOLDER}`,
          git_access_token_secret: 'git_token',
          resources: { type: 'CpuResources', cpu_fraction: 1, memory: '1Gi' },
        },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: { number_of_pods: 1, cpu_fraction: 0.5, memory: '512Mi', deployment_process_timeout_limit: 120 },
      },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    const refit = new RefitClient(server.client, taskQueue);
    await refit.register([validated.automation]);
    try {
      const result = (await (await refit.run('in-cluster')).result()) as BuildDeployResult;
      expect(result).toMatchObject({ deployed: true, git_commit: commit });
      expect(result.build?.image).toMatch(new RegExp(`^${IMAGES}/in-cluster@sha256:[0-9a-f]{64}$`));
      const answer = await askThroughService(cluster, NAMESPACE, 'in-cluster', 'in-cluster', [Array.from({ length: 30 }, () => 1)]);
      expect(answer.status).toBe(200);
      // The run's steps ran in the pod: its own host queue is named after it.
      const { items: workers } = await cluster.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app.kubernetes.io/name=refit-worker' });
      const log = await cluster.core.readNamespacedPodLog({ name: workers[0]!.metadata!.name!, namespace: NAMESPACE });
      expect(log).toContain(`task queues "${taskQueue}" and "${taskQueue}@${workers[0]!.metadata!.name}"`);
    } finally {
      await refit.delete('in-cluster').catch(() => undefined);
    }
  }, 900_000);
});

/** A TCP forwarder from the node's address (a free port) to `target` on this machine. */
function forward(host: string, target: string): net.Server {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  return net
    .createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    })
    .listen(0, host);
}

async function podStory(cluster: fixtures.TargetFixture): Promise<string> {
  const { items } = await cluster.core.listNamespacedPod({ namespace: NAMESPACE });
  const lines: string[] = [];
  for (const pod of items) {
    lines.push(`${pod.metadata?.name}: ${pod.status?.phase} ${JSON.stringify(pod.status?.containerStatuses?.map((status) => status.state))}`);
    lines.push(await cluster.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: NAMESPACE, tailLines: 40 }).catch((err: Error) => err.message));
  }
  return lines.join('\n');
}
