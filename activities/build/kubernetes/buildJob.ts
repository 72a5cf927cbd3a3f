// A build as Kubernetes objects: a Job (one per build id: its name is the idempotency key), the build's own
// Secret (the git header, env_vars and granted secrets: the only object that holds their values) and, with
// assumed_iam_role, a ServiceAccount with the EKS IRSA annotation. Pure functions of the request and the
// runner's settings, so a retried or re-attached activity builds exactly the same objects.
//
// The pod: init container `tools` (Refit's runtime image) copies crane and refit_sdk into the shared
// workspace; init container `clone` (the build's base image) fetches the one commit with the token read from
// the Secret; init container `build` (the base image) runs refit_sdk.cluster_build: dependencies, tests,
// training; the container `push` (the runtime image, the only one with the registry's credentials, running no
// model code) pushes the image and writes the build's result as its termination message.
import type { V1EnvVar, V1Job, V1PodSpec, V1ResourceRequirements, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { INSTANCE_SIZES, type GpuType } from '../../../spec/instanceSizes.js';
import { SECRET_VALUE_PREFIX } from '../../../spec/schema/common.js';
import type { AutomationModel } from '../../../spec/schema/automation.js';
import { conePatternsOf } from '../../git/cloneFiles.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, labelValue, objectName } from '../../deploy/kubernetes/names.js';
import { cpuQuantity, memoryQuantity } from '../../deploy/kubernetes/workload.js';

type BuildSpec = AutomationModel['action']['build_spec'];

export interface JobBuildSettings {
  namespace: string;
  /** Refit's runtime image: the source of the build's tools, and the default base_image. */
  runtimeImage: string;
  /** Images are pushed as `<imageRepository>/<model_id>:<build_id>`. */
  imageRepository: string;
  /** The package index builds install from (a cluster's own mirror); absent: pip's default. */
  pipIndexUrl?: string;
  /** A `kubernetes.io/dockerconfigjson` Secret in the namespace: the build pushes with it, its pods pull with it. */
  registrySecret?: string;
  /** The registry speaks plain HTTP (a dev registry): crane is told so. */
  insecureRegistry: boolean;
  /** How long a finished Job (and its pod and log) is kept. */
  ttlSecondsAfterFinished: number;
  /** The node label that names a node's GPU product (NVIDIA GPU feature discovery's). */
  gpuNodeLabel: string;
  /** The node label that names a node's instance type; empty: instances do not select nodes. */
  instanceNodeLabel: string;
}

export const DEFAULT_JOB_SETTINGS = {
  ttlSecondsAfterFinished: 3600,
  gpuNodeLabel: 'nvidia.com/gpu.product',
  instanceNodeLabel: 'node.kubernetes.io/instance-type',
} as const;

/** GpuResources' gpu_type as the product name NVIDIA's GPU feature discovery puts on a node's label. */
export const GPU_PRODUCTS: Record<GpuType, string> = {
  NVIDIA_K80: 'Tesla-K80',
  NVIDIA_T4: 'Tesla-T4',
  NVIDIA_V100: 'Tesla-V100-SXM2-16GB',
  NVIDIA_A10G: 'NVIDIA-A10G',
  NVIDIA_L4: 'NVIDIA-L4',
  NVIDIA_A100: 'NVIDIA-A100-SXM4-40GB',
  NVIDIA_H100: 'NVIDIA-H100-80GB-HBM3',
};

export interface BuildJobRequest {
  buildId: string;
  automation: string;
  modelId: string;
  /** The repository's clone URL (no credentials in it) and the model's folder in it. */
  repository: string;
  subdirectory?: string;
  /** The commit the workflow recorded: the pod fetches exactly that one. */
  commit: string;
  spec: BuildSpec;
  /** Whether the Secret carries a git header (a token was configured). */
  withToken: boolean;
  /** The build's time limit. */
  timeoutSeconds: number;
  /** Variables besides env_vars that the build's Secret holds for the build container (the MLflow run's). */
  extraEnvKeys?: string[];
}

export const WORKSPACE = '/workspace';
export const SECRETS_DIR = '/var/run/refit/secrets';
const DOCKER_CONFIG_DIR = '/var/run/refit/docker';
const BUILD_USER = 65532;

/** Keys of the build's Secret. */
export const SECRET_KEYS = {
  gitHeader: 'git-http-header',
  env: (name: string) => `env.${name}`,
  secret: (name: string) => `secret.${name}`,
} as const;

export const buildJobName = (buildId: string) => objectName('refit-build', buildId);

/** The model's folder in the repository, without leading or trailing slashes ("" for the root). */
function modelFolderOf(subdirectory: string | undefined): string {
  return (subdirectory ?? '').replace(/^\/+|\/+$/g, '');
}

/** Where the model's folder is inside the pod (what the clone step reports as modelDir). */
export function podModelDir(subdirectory: string | undefined): string {
  const folder = modelFolderOf(subdirectory);
  return folder ? `${WORKSPACE}/src/${folder}` : `${WORKSPACE}/src`;
}

function buildLabels(request: BuildJobRequest): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.component]: 'build',
    [LABELS.model]: labelValue(request.modelId),
    [LABELS.build]: labelValue(request.buildId),
  };
}

function metadataOf(request: BuildJobRequest, settings: JobBuildSettings, name: string) {
  return {
    name,
    namespace: settings.namespace,
    labels: buildLabels(request),
    annotations: { [ANNOTATIONS.buildId]: request.buildId, [ANNOTATIONS.automation]: request.automation },
  };
}

/** What the build's Secret holds, as plain strings (the caller has checked every secret's scope). */
export interface BuildSecretValues {
  /** The `Authorization: ...` header git sends, when there is a token. */
  gitHeader?: string;
  /** env_vars, resolved: KEY -> value. */
  env: Record<string, string>;
  /** The build_spec.secrets granted to the repository (refit.yaml takes from these): name -> value. */
  granted: Record<string, string>;
}

export function buildSecret(request: BuildJobRequest, settings: JobBuildSettings, values: BuildSecretValues): V1Secret {
  const data: Record<string, string> = {};
  if (values.gitHeader) data[SECRET_KEYS.gitHeader] = values.gitHeader;
  for (const [key, value] of Object.entries(values.env)) data[SECRET_KEYS.env(key)] = value;
  for (const [name, value] of Object.entries(values.granted)) data[SECRET_KEYS.secret(name)] = value;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: metadataOf(request, settings, buildJobName(request.buildId)),
    stringData: data,
  };
}

/** With assumed_iam_role: the build's own ServiceAccount, annotated as EKS IAM Roles for Service Accounts expects. */
export function buildServiceAccount(request: BuildJobRequest, settings: JobBuildSettings): V1ServiceAccount | undefined {
  const role = request.spec.assumed_iam_role;
  if (!role) return undefined;
  const metadata = metadataOf(request, settings, buildJobName(request.buildId));
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...metadata, annotations: { ...metadata.annotations, [ANNOTATIONS.iamRole]: role } } };
}

/** The build's resources and the nodes it may run on. */
export function buildPlacement(
  resources: BuildSpec['resources'],
  settings: Pick<JobBuildSettings, 'gpuNodeLabel' | 'instanceNodeLabel'>,
): { resources?: V1ResourceRequirements; nodeSelector?: Record<string, string> } {
  if (!resources) return {};
  const quantities = (cpus: number | undefined, memory: string | undefined, gpus: number | undefined) => {
    const amounts: Record<string, string> = {};
    if (cpus) amounts.cpu = cpuQuantity(cpus);
    if (memory) amounts.memory = memoryQuantity(memory);
    if (gpus) amounts['nvidia.com/gpu'] = String(gpus);
    return { requests: amounts, limits: amounts };
  };
  switch (resources.type) {
    case 'CpuResources':
      return { resources: quantities(resources.cpu_fraction, resources.memory, undefined) };
    case 'GpuResources':
      return {
        resources: quantities(undefined, undefined, resources.gpu_amount),
        nodeSelector: { [settings.gpuNodeLabel]: GPU_PRODUCTS[resources.gpu_type] },
      };
    case 'ClientResources': {
      const size = INSTANCE_SIZES[resources.instance]!;
      const nodeSelector: Record<string, string> = {};
      if (settings.instanceNodeLabel) nodeSelector[settings.instanceNodeLabel] = resources.instance;
      if (size.gpu) nodeSelector[settings.gpuNodeLabel] = GPU_PRODUCTS[size.gpu.type];
      return {
        resources: quantities(size.cpus, size.memory, size.gpu?.amount),
        ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
      };
    }
  }
}

/** The model folder's cone patterns for the clone container; none (the whole commit) for the root or a name git would escape. */
function sparsePatternsEnv(subdirectory: string | undefined): V1EnvVar[] {
  const patterns = conePatternsOf(modelFolderOf(subdirectory));
  return patterns ? [{ name: 'REFIT_SPARSE_PATTERNS', value: patterns }] : [];
}

// Runs in the base image, which only needs sh, git and python3: a missing one is reported as the build's error.
// Exported for the test that runs it against the token-checking git server.
export const CLONE_SCRIPT = [
  'set -eu',
  'fail() { printf "%s\\n" "$1" >&2; printf "refit-build-error: %s\\n" "$1" > /dev/termination-log; exit 1; }',
  'command -v git >/dev/null 2>&1 || fail "the base image $REFIT_BASE_IMAGE has no git: a build image needs git and Python 3"',
  'command -v python3 >/dev/null 2>&1 || fail "the base image $REFIT_BASE_IMAGE has no python3: a build image needs git and Python 3"',
  'mkdir -p /workspace/src && cd /workspace/src',
  'git init --quiet',
  'git remote add origin "$REFIT_REPOSITORY"',
  'filter=',
  // A model in a folder takes only that folder's files, as the worker's own clone does: the commit's trees first,
  // then, at the checkout, the blobs under the folder (the remote is the promisor that git asks for them).
  'if [ -n "${REFIT_SPARSE_PATTERNS:-}" ]; then',
  '  git config remote.origin.promisor true',
  '  git config remote.origin.partialclonefilter blob:none',
  '  git config core.sparseCheckout true',
  '  git config core.sparseCheckoutCone true',
  '  printf "%s" "$REFIT_SPARSE_PATTERNS" > .git/info/sparse-checkout',
  '  filter=--filter=blob:none',
  'fi',
  'git -c maintenance.auto=false fetch --quiet --depth 1 $filter origin "$REFIT_COMMIT" || fail "git could not fetch commit $REFIT_COMMIT from $REFIT_REPOSITORY (see the clone log above)"',
  'git -c maintenance.auto=false -c advice.detachedHead=false checkout --quiet FETCH_HEAD || fail "git could not check out commit $REFIT_COMMIT of $REFIT_REPOSITORY (see the clone log above)"',
  'echo "cloned $REFIT_REPOSITORY at $REFIT_COMMIT"',
].join('\n');

// Copies the build's tools out of the runtime image, whatever base image the build runs on.
const TOOLS_SCRIPT = [
  'set -eu',
  'mkdir -p /workspace/tools/python',
  'cp /usr/local/bin/crane /workspace/tools/crane',
  'python3 - <<"EOF"',
  'import os, shutil, refit_sdk, yaml',
  'for module in (refit_sdk, yaml):',
  '    source = os.path.dirname(module.__file__)',
  '    shutil.copytree(source, os.path.join("/workspace/tools/python", os.path.basename(source)), ignore=shutil.ignore_patterns("__pycache__"))',
  'EOF',
  'echo "tools ready: crane, refit_sdk, yaml"',
].join('\n');

const fromSecret = (secretName: string, key: string): V1EnvVar['valueFrom'] => ({ secretKeyRef: { name: secretName, key } });

/** The build container's variables from the Secret: env_vars, then the extra ones they do not name. */
function envKeys(envVars: string[], extra: string[] = []): string[] {
  const keys = envVars.map((entry) => entry.slice(0, entry.indexOf('=')));
  return [...keys, ...extra.filter((key) => !keys.includes(key))];
}

/** Env vars of the build container: the build's facts as values, every env_vars entry from the build's Secret. */
function buildEnv(request: BuildJobRequest, settings: JobBuildSettings, secretName: string): V1EnvVar[] {
  const { spec } = request;
  const baseImage = spec.base_image ?? settings.runtimeImage;
  const modelDir = podModelDir(request.subdirectory);
  const facts: Record<string, string> = {
    HOME: `${WORKSPACE}/home`,
    PYTHONPATH: `${WORKSPACE}/tools/python`,
    PYTHONUNBUFFERED: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_CACHE_DIR: '1',
    REFIT_BUILD_ID: request.buildId,
    REFIT_MODEL_ID: request.modelId,
    REFIT_MODEL_DIR: modelDir,
    REFIT_MAIN_DIR: spec.main_dir,
    REFIT_WORK_DIR: `${WORKSPACE}/build`,
    REFIT_TOOLS_DIR: `${WORKSPACE}/tools`,
    REFIT_BASE_IMAGE: baseImage,
    REFIT_IMAGE_REPOSITORY: settings.imageRepository,
    REFIT_PUSH_IMAGE: String(spec.push_image),
    REFIT_REGISTRY_INSECURE: String(settings.insecureRegistry),
    REFIT_SECRETS_DIR: SECRETS_DIR,
    REFIT_TAGS: spec.tags.join(','),
    REFIT_PARAMETERS: JSON.stringify(spec.parameters),
    // Names only: the build masks these variables' values in its log.
    REFIT_SECRET_ENV_KEYS: [
      ...secretsOfEnvVars(spec.env_vars)
        .filter((entry) => entry.secret)
        .map((entry) => entry.key),
      ...(request.extraEnvKeys ?? []).filter((key) => /(PASSWORD|TOKEN)$/.test(key)),
    ].join(','),
  };
  if (spec.dependency_file_path) facts.REFIT_DEPENDENCY_FILE = spec.dependency_file_path;
  if (settings.pipIndexUrl) {
    facts.PIP_INDEX_URL = settings.pipIndexUrl;
    const url = new URL(settings.pipIndexUrl);
    if (url.protocol === 'http:') facts.PIP_TRUSTED_HOST = url.hostname;
  }
  return [
    { name: 'REFIT_BUILD_STEP', value: 'build' },
    ...Object.entries(facts).map(([name, value]) => ({ name, value })),
    ...envKeys(spec.env_vars, request.extraEnvKeys).map((name) => ({ name, valueFrom: fromSecret(secretName, SECRET_KEYS.env(name)) })),
  ];
}

/** Env vars of the push container: the build's facts, no env_vars, and the registry credentials. */
function pushEnv(request: BuildJobRequest, settings: JobBuildSettings): V1EnvVar[] {
  const facts = buildEnv(request, settings, '').filter((variable) => variable.value !== undefined && variable.name !== 'REFIT_BUILD_STEP');
  return [{ name: 'REFIT_BUILD_STEP', value: 'push' }, ...facts, ...(settings.registrySecret ? [{ name: 'DOCKER_CONFIG', value: DOCKER_CONFIG_DIR }] : [])];
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  runAsUser: BUILD_USER,
  runAsGroup: BUILD_USER,
};

export function buildJob(request: BuildJobRequest, settings: JobBuildSettings): V1Job {
  const { spec } = request;
  const name = buildJobName(request.buildId);
  const baseImage = spec.base_image ?? settings.runtimeImage;
  const placement = buildPlacement(spec.resources, settings);
  const workspace = { name: 'workspace', mountPath: WORKSPACE };
  const grantedSecrets = spec.secrets.map((secret) => ({ key: SECRET_KEYS.secret(secret), path: secret }));
  const cloneEnv: V1EnvVar[] = [
    { name: 'HOME', value: `${WORKSPACE}/home` },
    { name: 'REFIT_REPOSITORY', value: request.repository },
    { name: 'REFIT_COMMIT', value: request.commit },
    { name: 'REFIT_BASE_IMAGE', value: baseImage },
    ...sparsePatternsEnv(request.subdirectory),
    { name: 'GIT_TERMINAL_PROMPT', value: '0' },
    // The token reaches git as an extra header from the Secret, as the local clone sends it: never in a URL or argv.
    { name: 'GIT_CONFIG_COUNT', value: request.withToken ? '2' : '1' },
    { name: 'GIT_CONFIG_KEY_0', value: 'credential.helper' },
    { name: 'GIT_CONFIG_VALUE_0', value: '' },
    ...(request.withToken
      ? [
          { name: 'GIT_CONFIG_KEY_1', value: 'http.extraHeader' },
          { name: 'GIT_CONFIG_VALUE_1', valueFrom: fromSecret(name, SECRET_KEYS.gitHeader) },
        ]
      : []),
  ];
  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    serviceAccountName: spec.assumed_iam_role ? name : undefined,
    // Model code gets no Kubernetes API access; EKS still injects the IRSA web identity token.
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: BUILD_USER, runAsGroup: BUILD_USER, fsGroup: BUILD_USER, seccompProfile: { type: 'RuntimeDefault' } },
    imagePullSecrets: settings.registrySecret ? [{ name: settings.registrySecret }] : undefined,
    nodeSelector: placement.nodeSelector,
    volumes: [
      { name: 'workspace', emptyDir: {} },
      ...(grantedSecrets.length ? [{ name: 'secrets', secret: { secretName: name, items: grantedSecrets, defaultMode: 0o400 } }] : []),
      ...(settings.registrySecret
        ? [{ name: 'docker-config', secret: { secretName: settings.registrySecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }]
        : []),
    ],
    initContainers: [
      {
        name: 'tools',
        image: settings.runtimeImage,
        command: ['sh', '-c', TOOLS_SCRIPT],
        volumeMounts: [workspace],
        securityContext: RESTRICTED,
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      },
      {
        name: 'clone',
        image: baseImage,
        command: ['sh', '-c', CLONE_SCRIPT],
        env: cloneEnv,
        volumeMounts: [workspace],
        securityContext: RESTRICTED,
        terminationMessagePolicy: 'FallbackToLogsOnError',
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
      },
      // The model's own code (installs, tests, training) runs here, with its secrets and without the registry's credentials.
      {
        name: 'build',
        image: baseImage,
        command: ['python3', '-m', 'refit_sdk.cluster_build'],
        workingDir: podModelDir(request.subdirectory),
        env: buildEnv(request, settings, name),
        resources: placement.resources,
        volumeMounts: [workspace, ...(grantedSecrets.length ? [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }] : [])],
        securityContext: RESTRICTED,
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
    containers: [
      // Pushes what the build left, with the credentials; no model code runs in it.
      {
        name: 'push',
        image: settings.runtimeImage,
        command: ['python3', '-m', 'refit_sdk.cluster_build'],
        env: pushEnv(request, settings),
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        volumeMounts: [workspace, ...(settings.registrySecret ? [{ name: 'docker-config', mountPath: DOCKER_CONFIG_DIR, readOnly: true }] : [])],
        securityContext: RESTRICTED,
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadataOf(request, settings, name),
    spec: {
      // A failed build is reported, not retried by Kubernetes: the workflow's retry policy decides.
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(request.timeoutSeconds)),
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
      template: { metadata: { labels: buildLabels(request), annotations: { [ANNOTATIONS.buildId]: request.buildId } }, spec: podSpec },
    },
  };
}

/** The Refit secrets env_vars name (`KEY=secret:name`), which the caller reads (scope-checked) into the Secret. */
export function secretsOfEnvVars(envVars: string[]): { key: string; value?: string; secret?: string }[] {
  return envVars.map((entry) => {
    const equals = entry.indexOf('=');
    const key = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    return value.startsWith(SECRET_VALUE_PREFIX) ? { key, secret: value.slice(SECRET_VALUE_PREFIX.length) } : { key, value };
  });
}
