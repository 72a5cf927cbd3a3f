// Runs one build as a Kubernetes Job and waits for its result: creates the build's Secret, ServiceAccount and
// Job unless the Job is there already (a retried activity, or a worker that came back, attaches to it and
// never starts a second one), follows its pod for progress, copies the pod's logs into the build log, and
// reads the result from the termination message of the push (or, when the build failed, the build) container. Cancelling deletes the Job and its pod.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ContainerStatus,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import { ErrorTypes, RefitError, type ErrorType } from '../../../shared/errors.js';
import { maskSecrets } from '../../../platform/secretMask.js';
import { apiErrorMessage, isNotFound } from '../../deploy/kubernetes/cluster.js';
import { buildJob, buildJobName, buildSecret, buildServiceAccount, type BuildJobRequest, type BuildSecretValues, type JobBuildSettings } from './buildJob.js';

/** What the build container reports (refit_sdk/cluster_build.py). */
export interface PodBuildResult {
  ok: boolean;
  type?: string;
  message?: string;
  metrics?: Record<string, number>;
  tests?: 'passed' | 'none';
  dependencies?: 'pushed' | 'reused' | 'installed';
  image?: { reference: string; digest: string; artifactBytes?: number };
  durationMs?: number;
  truncated?: boolean;
}

export interface JobProgress {
  phase: string;
  container?: string;
  line?: string;
}

export interface RunBuildJobOptions {
  kubeConfig: KubeConfig;
  settings: JobBuildSettings;
  /** The worker's build log for this build: the pod's logs are copied into it. */
  logFile: string;
  signal?: AbortSignal;
  onProgress?: (progress: JobProgress) => void;
  pollMs?: number;
  /** Values to hide wherever the pod's log is copied. */
  mask?: string[];
}

const CONTAINERS = ['tools', 'clone', 'build', 'push'] as const;
// A pod that waits for one of these will not start by itself: the build fails at once, naming it.
const STUCK_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'ErrImageNeverPull',
]);
const KNOWN_TYPES = new Set<string>(Object.values(ErrorTypes));

function errorTypeOf(type: string | undefined): ErrorType {
  return type && KNOWN_TYPES.has(type) ? (type as ErrorType) : ErrorTypes.BuildFailed;
}

export class BuildJobClient {
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
  ) {
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async readJob(name: string): Promise<V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The Job as it is on the cluster: the existing one, else the one created now with its Secret and ServiceAccount. */
  async createOrAttach(
    request: BuildJobRequest,
    settings: JobBuildSettings,
    values: () => Promise<BuildSecretValues>,
  ): Promise<{ job: V1Job; attached: boolean }> {
    const name = buildJobName(request.buildId);
    const existing = await this.readJob(name);
    if (existing) return { job: existing, attached: true };
    const secret = buildSecret(request, settings, await values());
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body: secret });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      // Left by an attempt that stopped before its Job: replaced, so that it holds today's values.
      await this.core.replaceNamespacedSecret({ name, namespace: this.namespace, body: secret });
    }
    const account = buildServiceAccount(request, settings);
    if (account) {
      await this.core.createNamespacedServiceAccount({ namespace: this.namespace, body: account }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    }
    let job: V1Job;
    let attached = false;
    try {
      job = await this.batch.createNamespacedJob({ namespace: this.namespace, body: buildJob(request, settings) });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      job = (await this.readJob(name))!;
      attached = true;
    }
    // Owned by the Job: deleted with it, when it is cancelled or its time after finishing is up.
    const owner = { metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata!.uid!, blockOwnerDeletion: false }] } };
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await this.core.patchNamespacedSecret({ name, namespace: this.namespace, body: owner }, merge);
    if (account) await this.core.patchNamespacedServiceAccount({ name, namespace: this.namespace, body: owner }, merge);
    return { job, attached };
  }

  async podOf(jobName: string): Promise<V1Pod | undefined> {
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` });
    return pods.items.sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')))[0];
  }

  async logOf(pod: V1Pod, container: string): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: this.namespace, container, limitBytes: 4 << 20 });
    } catch {
      return '';
    }
  }

  async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** The pod's init containers' statuses, then its containers', in the order they run. */
export function containerStatusesOf(pod: V1Pod | undefined): V1ContainerStatus[] {
  return [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
}

/** Which container of the pod runs now, and why it waits if it does. */
function podState(pod: V1Pod | undefined): { phase: string; container?: string; waiting?: { reason: string; message?: string } } {
  if (!pod) return { phase: 'Pending' };
  const statuses = containerStatusesOf(pod);
  const current = statuses.find((status) => !status.state?.terminated) ?? statuses.at(-1);
  const waiting = current?.state?.waiting;
  return {
    phase: pod.status?.phase ?? 'Pending',
    container: current?.name,
    waiting: waiting?.reason ? { reason: waiting.reason, message: waiting.message } : undefined,
  };
}

function terminationOf(pod: V1Pod | undefined, container: string) {
  const statuses = containerStatusesOf(pod);
  return statuses.find((status) => status.name === container)?.state?.terminated;
}

function jobCondition(job: V1Job | undefined, type: 'Complete' | 'Failed'): { reason?: string; message?: string } | undefined {
  return job?.status?.conditions?.find((condition) => condition.type === type && condition.status === 'True');
}

/** The build container's JSON, or undefined when it wrote none. */
export function parseTerminationMessage(message: string | undefined): PodBuildResult | undefined {
  if (!message?.trim().startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(message.trim()) as PodBuildResult;
    return typeof parsed.ok === 'boolean' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pod's logs mirrored into the worker's build log as the build goes, so that `refit logs <build>` shows
 * them while it runs and after the pod is gone: a finished container's log is read once, the running one's
 * on every poll.
 */
class PodLogMirror {
  private readonly finished = new Map<string, string>();
  private readonly before: string;

  constructor(
    private readonly client: BuildJobClient,
    private readonly options: RunBuildJobOptions,
  ) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    this.before = existsSync(options.logFile) ? readFileSync(options.logFile, 'utf8') : '';
  }

  /** Mirrors what the pod has logged; resolves to the running container's last line. */
  async update(pod: V1Pod | undefined): Promise<string | undefined> {
    if (!pod) return undefined;
    const statuses = containerStatusesOf(pod);
    const sections: string[] = [];
    let lastLine: string | undefined;
    for (const container of CONTAINERS) {
      const state = statuses.find((status) => status.name === container)?.state;
      if (!state?.running && !state?.terminated) continue;
      let log = this.finished.get(container);
      if (log === undefined) {
        log = maskSecrets(await this.client.logOf(pod, container), this.options.mask ?? []);
        if (state.terminated) this.finished.set(container, log);
        else lastLine = log.trimEnd().split('\n').at(-1);
      }
      sections.push(`\n== pod ${pod.metadata?.name}, container ${container} ==\n${log}`);
    }
    writeFileSync(this.options.logFile, this.before + sections.join(''));
    return lastLine;
  }

  note(text: string): void {
    appendFileSync(this.options.logFile, text);
  }
}

/** Why a finished pod gave no result, from what Kubernetes says of it. */
function failureWithoutResult(job: V1Job | undefined, pod: V1Pod | undefined, timeoutSeconds: number): RefitError {
  const failed = jobCondition(job, 'Failed');
  if (failed?.reason === 'DeadlineExceeded')
    return new RefitError(ErrorTypes.BuildFailed, `the build did not finish within its time limit (${timeoutSeconds} s), so Kubernetes stopped its Job`);
  for (const container of CONTAINERS) {
    const terminated = terminationOf(pod, container);
    if (!terminated || terminated.exitCode === 0) continue;
    if (terminated.reason === 'OOMKilled')
      return new RefitError(
        ErrorTypes.BuildFailed,
        `the build's ${container} step ran out of memory (its limit is the build's memory): raise resources.memory`,
      );
    const message = terminated.message?.trim();
    const reported = message?.match(/refit-build-error: (.*)/)?.[1];
    const type = container === 'clone' ? ErrorTypes.GitRepositoryNotFound : ErrorTypes.BuildFailed;
    return new RefitError(
      type,
      `the build's ${container} step failed (exit ${terminated.exitCode}): ${reported ?? message?.split('\n').slice(-6).join('\n') ?? terminated.reason ?? 'no message'}`,
    );
  }
  return new RefitError(ErrorTypes.BuildFailed, `the build's Job failed: ${failed?.message ?? failed?.reason ?? 'Kubernetes gave no reason'}`);
}

/** Creates (or finds) the build's Job and follows it to its result. */
export async function runBuildJob(request: BuildJobRequest, values: () => Promise<BuildSecretValues>, options: RunBuildJobOptions): Promise<PodBuildResult> {
  const client = new BuildJobClient(options.kubeConfig, options.settings.namespace);
  const name = buildJobName(request.buildId);
  const { attached } = await client.createOrAttach(request, options.settings, values);
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  appendFileSync(
    options.logFile,
    `\n== build ${request.buildId} of model ${request.modelId}: ${attached ? 'attached to' : 'started'} Job ${options.settings.namespace}/${name} (${new Date().toISOString()}) ==\n`,
  );
  const mirror = new PodLogMirror(client, options);
  const pollMs = options.pollMs ?? 1000;
  let lastReported = '';
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const job = await client.readJob(name);
      if (!job) throw new RefitError(ErrorTypes.BuildFailed, `the build's Job ${options.settings.namespace}/${name} was deleted before it finished`);
      const pod = await client.podOf(name);
      const state = podState(pod);
      // The push step reports a build that got that far; the build step reports its own failure. Either is
      // final as soon as its container has ended: the Job's own condition follows seconds later.
      const reported = parseTerminationMessage(terminationOf(pod, 'push')?.message) ?? parseTerminationMessage(terminationOf(pod, 'build')?.message);
      if (reported || jobCondition(job, 'Complete') || jobCondition(job, 'Failed')) {
        await mirror.update(pod);
        if (reported) return reported;
        throw failureWithoutResult(job, pod, request.timeoutSeconds);
      }
      if (state.waiting && STUCK_REASONS.has(state.waiting.reason)) {
        await mirror.update(pod);
        await client.deleteJob(name);
        const image = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].find((container) => container.name === state.container)?.image;
        throw new RefitError(
          ErrorTypes.BuildFailed,
          `the build's ${state.container} container cannot start (${state.waiting.reason}${image ? ` for image ${image}` : ''}): ${state.waiting.message ?? 'no details'}`,
        );
      }
      const summary = `${state.phase}/${state.container ?? '-'}`;
      const line = await mirror.update(pod);
      if (summary !== lastReported || line) options.onProgress?.({ phase: state.phase, container: state.container, line });
      lastReported = summary;
      await sleep(pollMs, undefined, { signal: options.signal });
    }
  } catch (err) {
    if (options.signal?.aborted) {
      if (workerStopping(options.signal)) {
        // The worker stops, the run does not: the Job goes on, and the next attempt attaches to it.
        mirror.note(`\n== the worker stopped; Job ${options.settings.namespace}/${name} goes on ==\n`);
      } else {
        // A cancelled run leaves nothing running: the Job goes, and its pod and Secret with it.
        await client.deleteJob(name).catch(() => undefined);
        mirror.note(`\n== cancelled: deleted Job ${options.settings.namespace}/${name} ==\n`);
      }
    }
    if (err instanceof RefitError || options.signal?.aborted) throw err;
    throw new Error(`following the build's Job ${options.settings.namespace}/${name} failed: ${apiErrorMessage(err)}`, { cause: err });
  }
}

/** Temporal aborts a running activity with the reason WORKER_SHUTDOWN when only its worker stops. */
function workerStopping(signal: AbortSignal): boolean {
  return (signal.reason as { message?: string } | undefined)?.message === 'WORKER_SHUTDOWN';
}

/** A failed result as the error the workflow reports. */
export function resultError(result: PodBuildResult): RefitError {
  return new RefitError(errorTypeOf(result.type), result.message ?? 'the build failed without saying why');
}

/** Writes the metrics a pod reported where the local metric source reads them. */
export function writeMetricsFile(file: string, metrics: Record<string, number>): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    Object.entries(metrics)
      .map(([name, value]) => `${JSON.stringify({ name, value, step: null })}\n`)
      .join(''),
  );
}
