// The clone and build steps when builds run on the cluster (REFIT_BUILD_RUNNER=kubernetes): the clone step
// only resolves the commit (the pod fetches exactly that one), the build step runs the build's Job and turns
// its reported result into the build's output: metrics into the file the metric source reads, the pushed
// image by digest. Secrets are read and scope-checked here, on the worker, and reach the cluster only in
// the build's own Secret.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { BuildOutput, CloneOutput } from '../../../shared/runTypes.js';
import type { AutomationModel } from '../../../spec/schema/automation.js';
import { gitAuthorizationHeader, remoteHead } from '../../git/cloneRepository.js';
import { allowedGitLocation, gitToken, type GitPolicy } from '../../git/gitAccess.js';
import { resolveEnvVars } from '../../secrets/resolveEnvVars.js';
import { useSecret, type SecretStore } from '../../secrets/secretStore.js';
import type { MetricSource } from '../../metrics/metricSource.js';
import { ARTIFACT_PATH } from '../../deploy/kubernetes/workload.js';
import { buildJobName, buildPlacement, podModelDir, type BuildJobRequest, type BuildSecretValues, type JobBuildSettings } from './buildJob.js';
import type { JobProgress } from './jobBuildRunner.js';

type BuildSpec = AutomationModel['action']['build_spec'];

export interface ClusterBuildRunner {
  kind: 'kubernetes';
  kubeConfig: KubeConfig;
  settings: JobBuildSettings;
  pollMs?: number;
}

export interface ClusterStepContext {
  runner: ClusterBuildRunner;
  secrets: SecretStore;
  /** With MLflow, the build's run is made here and the pod logs to it (the tracking server must be reachable from pods). */
  metricSource?: MetricSource;
  gitPolicy: GitPolicy;
  buildDir: string;
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (details: Record<string, unknown>) => void;
}

interface Who {
  buildId: string;
  automation: string;
  modelId: string;
  buildSpec: BuildSpec;
}

const CLONE_FILE = 'clone.json';
const RESULT_FILE = 'build-result.json';

/** The commit the build pod will fetch, recorded on this worker for the build step (which runs here too). */
export async function resolveCloneOnCluster(input: Who, context: ClusterStepContext): Promise<CloneOutput> {
  const location = allowedGitLocation(input.buildSpec.git_uri, context.gitPolicy);
  const secretName = input.buildSpec.git_access_token_secret;
  const token = await gitToken(context.secrets, secretName, location, input, context.gitPolicy);
  context.onProgress?.({ step: 'clone', line: `resolving ${input.buildSpec.git_branch} of ${location.repository}` });
  const commit = await remoteHead({ repository: location.repository, branch: input.buildSpec.git_branch, token, tokenSecretName: secretName });
  mkdirSync(context.buildDir, { recursive: true });
  writeFileSync(path.join(context.buildDir, CLONE_FILE), JSON.stringify({ commit }));
  return { commit, modelDir: podModelDir(location.subdirectory) };
}

/** The build's Secret's values, every secret scope-checked for this automation and model. */
async function secretValues(
  input: Who,
  context: ClusterStepContext,
  token: string | undefined,
  metricEnv: Record<string, string>,
  heard: string[],
): Promise<BuildSecretValues> {
  const whom = { automation: input.automation, modelId: input.modelId };
  const resolved = await resolveEnvVars(input.buildSpec.env_vars, context.secrets, { ...whom, field: 'build_spec.env_vars' }, (value) => heard.push(value));
  const env = { ...resolved, ...metricEnv };
  const granted: Record<string, string> = {};
  for (const name of input.buildSpec.secrets) {
    granted[name] = await useSecret(context.secrets, name, { ...whom, field: 'build_spec.secrets' });
    heard.push(granted[name]);
  }
  return { gitHeader: token ? gitAuthorizationHeader(token) : undefined, env, granted };
}

function describeResources(spec: BuildSpec, settings: JobBuildSettings): string[] {
  const placement = buildPlacement(spec.resources, settings);
  const limits = placement.resources?.limits ?? {};
  const lines = [
    Object.keys(limits).length
      ? `Kubernetes requests = limits: ${Object.entries(limits)
          .map(([name, quantity]) => `${name} ${quantity}`)
          .join(', ')}`
      : 'no resources requested: the namespace defaults apply',
  ];
  if (placement.nodeSelector)
    lines.push(
      `nodes with ${Object.entries(placement.nodeSelector)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ')}`,
    );
  return lines;
}

export async function buildOnCluster(input: Who & { modelDir: string }, context: ClusterStepContext): Promise<BuildOutput> {
  const resultFile = path.join(context.buildDir, RESULT_FILE);
  if (existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8')) as BuildOutput;
  const { settings } = context.runner;
  const location = allowedGitLocation(input.buildSpec.git_uri, context.gitPolicy);
  const secretName = input.buildSpec.git_access_token_secret;
  const token = await gitToken(context.secrets, secretName, location, input, context.gitPolicy);
  const { commit } = JSON.parse(readFileSync(path.join(context.buildDir, CLONE_FILE), 'utf8')) as { commit: string };
  const metricEnv = (await context.metricSource?.prepareBuild?.({ buildId: input.buildId, modelId: input.modelId })) ?? {};
  const request: BuildJobRequest = {
    buildId: input.buildId,
    automation: input.automation,
    modelId: input.modelId,
    repository: location.repository,
    subdirectory: location.subdirectory,
    commit,
    spec: input.buildSpec,
    withToken: Boolean(token),
    timeoutSeconds: Math.ceil(context.timeoutMs / 1000),
    extraEnvKeys: Object.keys(metricEnv),
  };
  // Loaded with the Kubernetes client, only by a worker whose builds run on a cluster.
  const { resultError, runBuildJob, writeMetricsFile } = await import('./jobBuildRunner.js');
  const logFile = path.join(context.buildDir, 'build.log');
  const heard: string[] = token ? [token] : [];
  for (const key of ['MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN']) if (metricEnv[key]) heard.push(metricEnv[key]);
  const started = Date.now();
  const result = await runBuildJob(request, () => secretValues(input, context, token, metricEnv, heard), {
    kubeConfig: context.runner.kubeConfig,
    settings,
    logFile,
    signal: context.signal,
    pollMs: context.runner.pollMs,
    mask: heard,
    onProgress: (progress: JobProgress) => context.onProgress?.({ step: 'build', job: buildJobName(input.buildId), ...progress }),
  });
  if (!result.ok) throw resultError(result);
  const metricsFile = path.join(context.buildDir, 'out', 'metrics.jsonl');
  writeMetricsFile(metricsFile, result.metrics ?? {});
  const repository = `${settings.imageRepository.replace(/\/+$/, '')}/${input.modelId}`;
  const output: BuildOutput = {
    artifactDir: ARTIFACT_PATH,
    metricsFile,
    python: 'python3',
    logFile,
    durationMs: result.durationMs ?? Date.now() - started,
    tests: result.tests ?? 'none',
    environmentReused: result.dependencies === 'reused',
    limits: describeResources(input.buildSpec, settings),
    tags: input.buildSpec.tags,
    ...(result.image
      ? {
          image: {
            reference: result.image.reference,
            digest: result.image.digest,
            pinned: `${repository}@${result.image.digest}`,
            dependencies: result.dependencies === 'reused' ? 'reused' : 'pushed',
          },
        }
      : { imageNotPushed: `push_image is false, so build ${input.buildId} pushed no image for the deploy to run` }),
  };
  writeFileSync(resultFile, JSON.stringify(output));
  return output;
}
