import os from 'node:os';
import path from 'node:path';
import type { ActivityDependencies } from '../activities/index.js';
import type { ImagePublishing } from '../activities/build/modelImage.js';
import { openAnalyticsStore } from '../activities/analytics/analyticsStore.js';
import { duckdbLimitsFromEnvironment } from '../activities/analytics/duckdbStore.js';
import { gitPolicyFromEnvironment } from '../activities/git/gitAccess.js';
import { webhookPolicyFromEnvironment } from '../activities/notify/sendNotification.js';
import { sandboxSettingsFromEnvironment, type SandboxSettings } from '../activities/process/sandbox.js';
import type { DeploymentTarget } from '../activities/deploy/deploymentTarget.js';
import { DEFAULT_JOB_SETTINGS } from '../activities/build/kubernetes/buildJob.js';
import type { ClusterBuildRunner } from '../activities/build/kubernetes/clusterBuildSteps.js';
import { kubernetesModules } from '../activities/deploy/kubernetes/kubernetesModules.js';
import { parseGateway } from '../activities/deploy/kubernetes/routing.js';
import { LocalDeploymentTarget } from '../activities/deploy/local/localTarget.js';
import { LocalMetricSource, type MetricSource } from '../activities/metrics/metricSource.js';
import { MlflowMetricSource } from '../activities/metrics/mlflowMetricSource.js';
import { ErrorTypes } from '../shared/errors.js';
import { MlflowApi } from '../activities/mlflow/mlflowApi.js';
import { MlflowModelRegistry } from '../activities/mlflow/mlflowModelRegistry.js';
import { withModelRegistry } from '../activities/deploy/modelRegistryTarget.js';
import { secretStoreFromEnvironment } from '../activities/secrets/storeFromEnvironment.js';
import type { SecretStore } from '../activities/secrets/secretStore.js';
import { packageRoot, refitHome } from '../platform/paths.js';
import { stepLimitsFromEnvironment } from '../shared/stepLimits.js';
import { Slots } from '../activities/process/slots.js';
import { workerSlotSettings, type WorkerSlotSettings } from './workerSlots.js';

/** The task queue only this worker polls: a build's files live on the machine that built it. */
export function hostTaskQueueOf(taskQueue: string): string {
  return `${taskQueue}@${process.env.REFIT_WORKER_ID ?? os.hostname()}`;
}

/**
 * The embedded defaults, configured from the environment: everything under $REFIT_HOME (secrets,
 * builds, cached environments, deployments), model analytics at REFIT_ANALYTICS_URL (DuckDB by default).
 */
/** `slots`: the worker's slot settings when its caller has read them already (REFIT_WORKER_*_SLOTS otherwise). */
export async function defaultDependencies(options: {
  taskQueue: string;
  home?: string;
  webUiUrl?: string;
  slots?: WorkerSlotSettings;
}): Promise<ActivityDependencies> {
  const home = options.home ?? refitHome();
  const secrets = await secretStoreFromEnvironment(home);
  const sdkPythonPath = path.join(packageRoot(), 'sdk', 'python');
  const python = process.env.REFIT_PYTHON ?? 'python3';
  const sandbox = sandboxSettingsFromEnvironment();
  const duckdb = duckdbLimitsFromEnvironment();
  const metricSource = metricSourceFromEnvironment();
  const target = await deploymentTargetFromEnvironment({ home, sdkPythonPath, secrets, sandbox, python });
  const registry = modelRegistryFromEnvironment(process.env, metricSource);
  return {
    refitHome: home,
    hostTaskQueue: hostTaskQueueOf(options.taskQueue),
    secrets,
    metricSource,
    openAnalytics: () => openAnalyticsStore(process.env.REFIT_ANALYTICS_URL, { refitHome: home, duckdb }),
    deploymentTarget: registry ? withModelRegistry(target, registry) : target,
    python,
    // Environments depend only on the dependency file, so several Refit homes may share them.
    venvCacheDir: process.env.REFIT_VENV_CACHE ?? path.join(home, 'venvs'),
    sdkPythonPath,
    webUiUrl: options.webUiUrl ?? process.env.REFIT_WEB_UI_URL,
    gitPolicy: gitPolicyFromEnvironment(),
    webhookPolicy: webhookPolicyFromEnvironment(),
    sandbox,
    limits: stepLimitsFromEnvironment(process.env),
    imagePublishing: imagePublishingFromEnvironment(process.env),
    buildRunner: await buildRunnerFromEnvironment(process.env),
    slots: slotsOf(options.slots ?? workerSlotSettings(process.env)),
  };
}

/** The build and clone slots every run on this worker shares. */
function slotsOf(settings: WorkerSlotSettings): NonNullable<ActivityDependencies['slots']> {
  return { builds: new Slots(settings.builds), clones: new Slots(settings.clones) };
}

/**
 * REFIT_BUILD_RUNNER: "local" (builds on this worker, confined) or "kubernetes" (each build a Job in the
 * deploy target's namespace); default: the same as REFIT_DEPLOY_TARGET. The Kubernetes runner needs
 * REFIT_RUNTIME_IMAGE (the tools and the default base_image) and REFIT_IMAGE_REPOSITORY, and takes
 * REFIT_PIP_INDEX_URL, REFIT_REGISTRY_SECRET, REFIT_REGISTRY_INSECURE, REFIT_BUILD_JOB_TTL_SECONDS,
 * REFIT_GPU_NODE_LABEL and REFIT_INSTANCE_NODE_LABEL.
 */
export async function buildRunnerFromEnvironment(env: NodeJS.ProcessEnv): Promise<{ kind: 'local' } | ClusterBuildRunner> {
  const kind = env.REFIT_BUILD_RUNNER || env.REFIT_DEPLOY_TARGET || 'local';
  if (kind === 'local') return { kind };
  if (kind !== 'kubernetes') throw new Error(`REFIT_BUILD_RUNNER must be local or kubernetes, not "${kind}"`);
  if (env.REFIT_DEPLOY_TARGET !== 'kubernetes')
    throw new Error('REFIT_BUILD_RUNNER=kubernetes builds images for a cluster: it needs REFIT_DEPLOY_TARGET=kubernetes (a local deploy runs a local build)');
  const missing = ['REFIT_RUNTIME_IMAGE', 'REFIT_IMAGE_REPOSITORY'].filter((name) => !env[name]);
  if (missing.length) {
    const why = env.REFIT_BUILD_RUNNER ? 'REFIT_BUILD_RUNNER=kubernetes' : 'With REFIT_DEPLOY_TARGET=kubernetes builds run on the cluster by default, which';
    throw new Error(
      `${why} needs ${missing.join(' and ')}: Refit's runtime image in your registry (scripts/build-runtime-image.sh makes it) and the repository builds push to` +
        (env.REFIT_BUILD_RUNNER ? '' : '; or set REFIT_BUILD_RUNNER=local to build on this worker'),
    );
  }
  const ttl = Number(env.REFIT_BUILD_JOB_TTL_SECONDS || DEFAULT_JOB_SETTINGS.ttlSecondsAfterFinished);
  if (!Number.isInteger(ttl) || ttl < 0)
    throw new Error(`REFIT_BUILD_JOB_TTL_SECONDS must be a whole number of seconds, not "${env.REFIT_BUILD_JOB_TTL_SECONDS}"`);
  if (env.REFIT_PIP_INDEX_URL && !/^https?:\/\//.test(env.REFIT_PIP_INDEX_URL))
    throw new Error(`REFIT_PIP_INDEX_URL must be an http(s) URL of a package index (e.g. https://pypi.example.com/simple), not "${env.REFIT_PIP_INDEX_URL}"`);
  const { kubeConfigFromEnvironment, kubeNamespace } = await kubernetesModules();
  const kubeConfig = kubeConfigFromEnvironment();
  return {
    kind,
    kubeConfig,
    settings: {
      namespace: kubeNamespace(kubeConfig, env),
      runtimeImage: env.REFIT_RUNTIME_IMAGE!,
      imageRepository: env.REFIT_IMAGE_REPOSITORY!,
      pipIndexUrl: env.REFIT_PIP_INDEX_URL || undefined,
      registrySecret: env.REFIT_REGISTRY_SECRET || undefined,
      insecureRegistry: /^(1|true|yes)$/i.test(env.REFIT_REGISTRY_INSECURE ?? ''),
      ttlSecondsAfterFinished: ttl,
      gpuNodeLabel: env.REFIT_GPU_NODE_LABEL || DEFAULT_JOB_SETTINGS.gpuNodeLabel,
      instanceNodeLabel: env.REFIT_INSTANCE_NODE_LABEL ?? DEFAULT_JOB_SETTINGS.instanceNodeLabel,
    },
  };
}

/**
 * With REFIT_DEPLOY_TARGET=kubernetes and REFIT_RUNTIME_IMAGE (Refit's runtime image in a registry), a local
 * build pushes its image to REFIT_IMAGE_REPOSITORY with crane (REFIT_CRANE, default: crane on PATH). Without
 * REFIT_RUNTIME_IMAGE the images are left to the user's own build system, as before.
 */
export function imagePublishingFromEnvironment(env: NodeJS.ProcessEnv): ImagePublishing | undefined {
  if (env.REFIT_DEPLOY_TARGET !== 'kubernetes' || !env.REFIT_RUNTIME_IMAGE || !env.REFIT_IMAGE_REPOSITORY) return undefined;
  return { crane: env.REFIT_CRANE || 'crane', baseImage: env.REFIT_RUNTIME_IMAGE, repository: env.REFIT_IMAGE_REPOSITORY };
}

/**
 * REFIT_DEPLOY_TARGET: "local" (default) or "kubernetes", configured by REFIT_KUBE_NAMESPACE,
 * REFIT_KUBE_ENVIRONMENTS (namespaces | contexts), REFIT_IMAGE_REPOSITORY (required), REFIT_PROMETHEUS_URL
 * and REFIT_GATEWAY ([namespace/]name), with the kubeconfig from KUBECONFIG, ~/.kube/config or the pod.
 */
export async function deploymentTargetFromEnvironment(
  options: { home: string; sdkPythonPath: string; secrets: SecretStore; sandbox?: SandboxSettings; python?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<DeploymentTarget> {
  const kind = env.REFIT_DEPLOY_TARGET || 'local';
  if (kind === 'local') {
    return new LocalDeploymentTarget({
      deploymentsRoot: path.join(options.home, 'deployments'),
      sdkPythonPath: options.sdkPythonPath,
      secrets: options.secrets,
      sandbox: options.sandbox,
      python: options.python,
    });
  }
  if (kind !== 'kubernetes') throw new Error(`REFIT_DEPLOY_TARGET must be local or kubernetes, not "${kind}"`);
  const environments = env.REFIT_KUBE_ENVIRONMENTS || 'namespaces';
  if (environments !== 'namespaces' && environments !== 'contexts')
    throw new Error(`REFIT_KUBE_ENVIRONMENTS must be namespaces or contexts, not "${environments}"`);
  // Images are built and pushed by the build system; the target only points Deployments at them.
  const imageRepository = env.REFIT_IMAGE_REPOSITORY;
  if (!imageRepository)
    throw new Error(
      'REFIT_DEPLOY_TARGET=kubernetes needs REFIT_IMAGE_REPOSITORY: the registry path the build pushes model images to, e.g. ghcr.io/acme/models',
    );
  const { kubeConfigFromEnvironment, kubeNamespace, KubernetesDeploymentTarget } = await kubernetesModules();
  const kubeConfig = kubeConfigFromEnvironment();
  return new KubernetesDeploymentTarget({
    kubeConfig,
    namespace: kubeNamespace(kubeConfig, env),
    environments,
    imageRepository,
    prometheusUrl: env.REFIT_PROMETHEUS_URL || undefined,
    gateway: parseGateway(env.REFIT_GATEWAY),
    imagePullSecret: env.REFIT_REGISTRY_SECRET || undefined,
  });
}

/**
 * With an MLflow tracking server (REFIT_MLFLOW_TRACKING_URI), its Model Registry follows every deploy and rollback
 * unless REFIT_MLFLOW_REGISTRY=off: a version per deployed build, the variation's alias on the build serving.
 */
export function modelRegistryFromEnvironment(env: NodeJS.ProcessEnv, metricSource: MetricSource): MlflowModelRegistry | undefined {
  const trackingUri = env.REFIT_MLFLOW_TRACKING_URI;
  const setting = env.REFIT_MLFLOW_REGISTRY || 'on';
  if (setting !== 'on' && setting !== 'off') throw new Error(`REFIT_MLFLOW_REGISTRY must be on or off, not "${setting}"`);
  if (!trackingUri || setting === 'off') return undefined;
  const api = new MlflowApi(
    { trackingUri, username: env.MLFLOW_TRACKING_USERNAME, password: env.MLFLOW_TRACKING_PASSWORD, token: env.MLFLOW_TRACKING_TOKEN },
    ErrorTypes.DeploymentFailed,
    'grant it write access to the registered models (or set REFIT_MLFLOW_REGISTRY=off)',
  );
  const runs = metricSource instanceof MlflowMetricSource ? metricSource : undefined;
  return new MlflowModelRegistry(api, (buildId) => runs?.runIdOf(buildId) ?? Promise.resolve(undefined));
}

/**
 * Metrics come from refit_sdk.log_metric unless REFIT_MLFLOW_TRACKING_URI names an MLflow tracking
 * server; then model code that calls mlflow.log_metric works unchanged (credentials from the usual
 * MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN).
 */
function metricSourceFromEnvironment(): MetricSource {
  const trackingUri = process.env.REFIT_MLFLOW_TRACKING_URI;
  if (!trackingUri) return new LocalMetricSource();
  return new MlflowMetricSource({
    trackingUri,
    experimentName: process.env.REFIT_MLFLOW_EXPERIMENT,
    username: process.env.MLFLOW_TRACKING_USERNAME,
    password: process.env.MLFLOW_TRACKING_PASSWORD,
    token: process.env.MLFLOW_TRACKING_TOKEN,
  });
}
