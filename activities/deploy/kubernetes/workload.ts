// The objects that run one variation of a model: its ServiceAccount and its Deployment. Pure functions of
// the release and the target's settings; the same input always gives the same objects, so applying them
// again is a no-op for the API server.
import type { V1Container, V1Deployment, V1EnvVar, V1Probe, V1ServiceAccount } from '@kubernetes/client-node';
import { SECRET_VALUE_PREFIX } from '../../../spec/schema/common.js';
import { parseMemory, formatMemory } from '../../../spec/memory.js';
import { ANNOTATIONS, LABELS, labelValue, objectNamesFor, secretObjectName, variationLabels, variationSelector } from './names.js';
import { recordAnnotations, SERVING_PORT, type Release } from './servingRecord.js';

/** Where the image keeps the build's artifact (the folder refit_sdk.build wrote): the image contract of the build system. */
export const ARTIFACT_PATH = '/opt/refit/artifact';
export const CONTAINER_NAME = 'model';
const HISTORY_KEPT = 5;

export interface WorkloadSettings {
  namespace: string;
  /** `${imageRepository}/${modelId}:${buildId}` */
  image: string;
  /** Refit secret name -> the key holding its value in the Kubernetes Secret ("value" unless found otherwise). */
  secretKeys: Record<string, string>;
  /** With an autoscaler, the Deployment leaves `replicas` to it (applying a count would fight the autoscaler). */
  autoscaled: boolean;
  /** The registry credentials' Secret the pods pull with (REFIT_REGISTRY_SECRET). */
  imagePullSecret?: string;
}

/** `cpu_fraction` as a canonical CPU quantity: 2 -> "2", 0.5 -> "500m". */
export function cpuQuantity(cores: number): string {
  const millicores = Math.max(1, Math.round(cores * 1000));
  return millicores % 1000 === 0 ? String(millicores / 1000) : `${millicores}m`;
}

export function memoryQuantity(memory: string): string {
  const parsed = parseMemory(memory);
  if ('error' in parsed) throw new Error(`memory: ${parsed.error}`);
  return formatMemory(parsed.mib);
}

export function imageOf(imageRepository: string, modelId: string, buildId: string): string {
  return `${imageRepository.replace(/\/+$/, '')}/${modelId}:${buildId}`;
}

/** `env_vars` as container variables: a "secret:<name>" value becomes a reference to the Kubernetes Secret, never a literal. */
export function containerEnv(envVars: string[], secretKeys: Record<string, string>): V1EnvVar[] {
  return envVars.map((entry) => {
    const equals = entry.indexOf('=');
    const name = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    if (!value.startsWith(SECRET_VALUE_PREFIX)) return { name, value };
    const secret = value.slice(SECRET_VALUE_PREFIX.length);
    return { name, valueFrom: { secretKeyRef: { name: secretObjectName(secret), key: secretKeys[secret] ?? 'value' } } };
  });
}

/** The Refit secrets a specification's env_vars refer to. */
export function referencedSecrets(envVars: string[]): string[] {
  return envVars
    .map((entry) => entry.slice(entry.indexOf('=') + 1))
    .filter((value) => value.startsWith(SECRET_VALUE_PREFIX))
    .map((value) => value.slice(SECRET_VALUE_PREFIX.length));
}

export function serviceAccountFor(release: Release, settings: { namespace: string }): V1ServiceAccount {
  const role = release.spec.custom_iam_role_arn;
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: objectNamesFor(release.modelId, release.spec.variation_name).variation,
      namespace: settings.namespace,
      labels: variationLabels(release.modelId, release.spec.variation_name),
      annotations: role ? { [ANNOTATIONS.iamRole]: role } : undefined,
    },
  };
}

const httpGet = (path: string) => ({ path, port: 'http' });

/** The model server's /metrics (refit_sdk/serving_metrics.py), for Prometheus' annotation-based pod discovery; a PodMonitor finds the `http` port. */
export const SCRAPE_ANNOTATIONS = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(SERVING_PORT), 'prometheus.io/path': '/metrics' };

/** Adds a variable unless env_vars set it (an env list is keyed by name: a second entry would be refused). */
function withDefault(env: V1EnvVar[], variable: V1EnvVar): V1EnvVar[] {
  return env.some((entry) => entry.name === variable.name) ? env : [...env, variable];
}

function serverContainer(release: Release, settings: WorkloadSettings): V1Container {
  const { spec } = release;
  const resources = { cpu: cpuQuantity(spec.cpu_fraction), memory: memoryQuantity(spec.memory) };
  // A model may take long to load: the startup probe allows the whole deployment timeout before liveness applies.
  // Probing every 2 s (not the default 10) makes a rollout's new pods count as ready within 2 s of being so.
  const startupProbe: V1Probe = {
    httpGet: httpGet('/v2/health/live'),
    periodSeconds: 2,
    failureThreshold: Math.max(1, Math.ceil(spec.deployment_process_timeout_limit / 2)),
  };
  return {
    name: CONTAINER_NAME,
    image: settings.image,
    // The same server the local target runs, on all interfaces of the pod.
    command: ['python', '-m', 'refit_sdk.serve'],
    args: [
      '--artifact-dir',
      ARTIFACT_PATH,
      '--model-name',
      release.modelId,
      '--host',
      '0.0.0.0',
      '--port',
      String(SERVING_PORT),
      '--workers',
      String(spec.number_of_http_server_workers),
      '--timeout-ms',
      String(spec.http_request_timeout_ms),
      '--max-batch-size',
      String(spec.max_batch_size),
      '--build-id',
      release.buildId,
      '--variation',
      spec.variation_name,
      '--daemon-mode',
      String(spec.daemon_mode),
    ],
    ports: [{ name: 'http', containerPort: SERVING_PORT, protocol: 'TCP' }],
    env: [
      { name: 'PYTHONUNBUFFERED', value: '1' },
      // The server names the pod that answered (an x-refit-pod header).
      { name: 'REFIT_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ].reduce(withDefault, containerEnv(spec.env_vars, settings.secretKeys)),
    resources: { requests: resources, limits: resources },
    startupProbe,
    readinessProbe: { httpGet: httpGet('/v2/health/ready'), periodSeconds: 2, failureThreshold: 3 },
    livenessProbe: { httpGet: httpGet('/v2/health/live'), periodSeconds: 10, failureThreshold: 3 },
  };
}

export function deploymentFor(release: Release, settings: WorkloadSettings): V1Deployment {
  const { modelId, spec } = release;
  const name = objectNamesFor(modelId, spec.variation_name).variation;
  const labels = {
    ...variationLabels(modelId, spec.variation_name),
    [LABELS.build]: labelValue(release.buildId),
    [LABELS.version]: labelValue(release.buildId),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: settings.namespace, labels, annotations: { [ANNOTATIONS.automation]: release.automation } },
    spec: {
      replicas: settings.autoscaled ? undefined : spec.number_of_pods,
      selector: { matchLabels: variationSelector(modelId, spec.variation_name) },
      // The kept ReplicaSets are the history rollbacks return to.
      revisionHistoryLimit: HISTORY_KEPT,
      progressDeadlineSeconds: spec.deployment_process_timeout_limit,
      // The previous build's pods keep serving until the new ones are ready.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: {
        metadata: { labels, annotations: { ...recordAnnotations(release), ...SCRAPE_ANNOTATIONS } },
        spec: {
          serviceAccountName: name,
          // The model needs no Kubernetes API access; EKS still injects the IRSA web identity token.
          automountServiceAccountToken: false,
          ...(settings.imagePullSecret ? { imagePullSecrets: [{ name: settings.imagePullSecret }] } : {}),
          containers: [serverContainer(release, settings)],
        },
      },
    },
  };
}
