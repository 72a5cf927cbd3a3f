// The build Job as data (pure functions): resources, node selectors, the service account, where each secret
// goes. The same Job runs on the real node in test/kubernetes/jobBuild.test.ts.
import { describe, expect, it } from '@jest/globals';
import {
  buildJob,
  buildJobName,
  buildPlacement,
  buildSecret,
  buildServiceAccount,
  GPU_PRODUCTS,
  podModelDir,
  type BuildJobRequest,
  type JobBuildSettings,
} from '../../activities/build/kubernetes/buildJob.js';
import { parseTerminationMessage } from '../../activities/build/kubernetes/jobBuildRunner.js';
import { buildRunnerFromEnvironment } from '../../worker/dependencies.js';
import { validateAutomation } from '../../spec/validate.js';
import { GPU_TYPES } from '../../spec/instanceSizes.js';

const settings: JobBuildSettings = {
  namespace: 'builds',
  runtimeImage: 'registry.example/refit/python:1',
  imageRepository: 'registry.example/models',
  pipIndexUrl: 'http://10.0.0.1:3141/simple',
  registrySecret: 'registry-credentials',
  insecureRegistry: false,
  ttlSecondsAfterFinished: 3600,
  gpuNodeLabel: 'nvidia.com/gpu.product',
  instanceNodeLabel: 'node.kubernetes.io/instance-type',
};

function requestWith(buildSpec: Record<string, unknown>): BuildJobRequest {
  const validated = validateAutomation({
    name: 'churn-automation',
    model_id: 'churn_model',
    trigger: { type: 'NoneTrigger' },
    action: { build_spec: { git_uri: 'https://git.example/acme/models.git#models/churn', git_access_token_secret: 'git_token', ...buildSpec } },
  });
  if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
  return {
    buildId: 'churn_model-0193-aa',
    automation: 'churn-automation',
    modelId: 'churn_model',
    repository: 'https://git.example/acme/models.git',
    subdirectory: 'models/churn',
    commit: 'a'.repeat(40),
    spec: validated.automation.action.build_spec,
    withToken: true,
    timeoutSeconds: 7200,
  };
}

const SECRET_VALUES = { gitHeader: 'Authorization: Basic c2VjcmV0', env: { API_KEY: 'key-value-1', MODE: 'fast' }, granted: { db_password: 'pw-value-2' } };

describe('the build Job', () => {
  it('is named after the build, runs once within the time limit and is kept for the TTL', () => {
    const job = buildJob(requestWith({}), settings);
    expect(job.metadata).toMatchObject({ name: buildJobName('churn_model-0193-aa'), namespace: 'builds' });
    expect(job.metadata!.name).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(job.metadata!.annotations!['refit.dev/build-id']).toBe('churn_model-0193-aa');
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 7200, ttlSecondsAfterFinished: 3600 });
    const pod = job.spec!.template.spec!;
    expect(pod).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, imagePullSecrets: [{ name: 'registry-credentials' }] });
    expect(pod.initContainers!.map((container) => [container.name, container.image, container.workingDir])).toEqual([
      ['tools', settings.runtimeImage, undefined],
      ['clone', settings.runtimeImage, undefined],
      ['build', settings.runtimeImage, podModelDir('models/churn')],
    ]);
    expect(pod.containers.map((container) => [container.name, container.image])).toEqual([['push', settings.runtimeImage]]);
    for (const container of [...pod.initContainers!, ...pod.containers])
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  });

  it('runs on the base_image, with cpu_fraction and memory as requests and limits', () => {
    const job = buildJob(requestWith({ base_image: 'python:3.11-slim', resources: { type: 'CpuResources', cpu_fraction: 0.5, memory: '768Mi' } }), settings);
    const pod = job.spec!.template.spec!;
    const [tools, clone, build] = pod.initContainers!;
    expect([tools!.image, clone!.image, build!.image, pod.containers[0]!.image]).toEqual([
      settings.runtimeImage,
      'python:3.11-slim',
      'python:3.11-slim',
      settings.runtimeImage,
    ]);
    expect(build!.resources).toEqual({ requests: { cpu: '500m', memory: '768Mi' }, limits: { cpu: '500m', memory: '768Mi' } });
    expect(pod.nodeSelector).toBeUndefined();
  });

  it('asks for GPUs as nvidia.com/gpu limits on nodes of the GPU product, and instances for their sizes and type', () => {
    expect(buildPlacement({ type: 'GpuResources', gpu_type: 'NVIDIA_T4', gpu_amount: 2 }, settings)).toEqual({
      resources: { requests: { 'nvidia.com/gpu': '2' }, limits: { 'nvidia.com/gpu': '2' } },
      nodeSelector: { 'nvidia.com/gpu.product': 'Tesla-T4' },
    });
    expect(buildPlacement({ type: 'ClientResources', instance: 'medium' }, settings)).toEqual({
      resources: { requests: { cpu: '2', memory: '8Gi' }, limits: { cpu: '2', memory: '8Gi' } },
      nodeSelector: { 'node.kubernetes.io/instance-type': 'medium' },
    });
    expect(buildPlacement({ type: 'ClientResources', instance: 'gpu.a10.xl' }, { ...settings, instanceNodeLabel: '' })).toEqual({
      resources: { requests: { cpu: '4', memory: '16Gi', 'nvidia.com/gpu': '1' }, limits: { cpu: '4', memory: '16Gi', 'nvidia.com/gpu': '1' } },
      nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-A10G' },
    });
    expect(Object.keys(GPU_PRODUCTS).sort()).toEqual([...GPU_TYPES].sort());
  });

  it('uses its own ServiceAccount with the IRSA annotation only with assumed_iam_role', () => {
    const role = 'arn:aws:iam::123456789012:role/churn-training';
    const request = requestWith({ assumed_iam_role: role });
    expect(buildServiceAccount(request, settings)!.metadata!.annotations!['eks.amazonaws.com/role-arn']).toBe(role);
    expect(buildJob(request, settings).spec!.template.spec!.serviceAccountName).toBe(buildJobName(request.buildId));
    expect(buildServiceAccount(requestWith({}), settings)).toBeUndefined();
    expect(buildJob(requestWith({}), settings).spec!.template.spec!.serviceAccountName).toBeUndefined();
  });

  it('holds no secret value: env_vars and the git header come from the build Secret, the token only in the clone container', () => {
    const request = requestWith({ env_vars: ['API_KEY=secret:api_key', 'MODE=fast'], secrets: ['db_password'] });
    const job = buildJob(request, settings);
    const text = JSON.stringify(job);
    for (const value of ['key-value-1', 'pw-value-2', 'c2VjcmV0', 'fast']) expect(text).not.toContain(value);
    const pod = job.spec!.template.spec!;
    const build = pod.initContainers!.find((container) => container.name === 'build')!;
    expect(build.env!.filter((variable) => variable.name === 'API_KEY' || variable.name === 'MODE')).toEqual([
      { name: 'API_KEY', valueFrom: { secretKeyRef: { name: job.metadata!.name, key: 'env.API_KEY' } } },
      { name: 'MODE', valueFrom: { secretKeyRef: { name: job.metadata!.name, key: 'env.MODE' } } },
    ]);
    expect(build.env!.find((variable) => variable.name === 'REFIT_SECRET_ENV_KEYS')!.value).toBe('API_KEY');
    const headerUsers = [...pod.initContainers!, ...pod.containers].filter((container) =>
      container.env?.some((variable) => variable.valueFrom?.secretKeyRef?.key === 'git-http-header'),
    );
    expect(headerUsers.map((container) => container.name)).toEqual(['clone']);
    // Granted secrets are files of the build container only; the git header is not among them.
    expect(pod.volumes!.find((volume) => volume.name === 'secrets')!.secret!.items).toEqual([{ key: 'secret.db_password', path: 'db_password' }]);
    const all = [...pod.initContainers!, ...pod.containers];
    const mounting = (volume: string) =>
      all.filter((container) => container.volumeMounts!.some((mount) => mount.name === volume)).map((container) => container.name);
    expect(mounting('secrets')).toEqual(['build']);
    // The registry's credentials only where no model code runs.
    expect(mounting('docker-config')).toEqual(['push']);
    expect(all.filter((container) => container.env?.some((variable) => variable.name === 'DOCKER_CONFIG')).map((container) => container.name)).toEqual([
      'push',
    ]);
    expect(pod.containers[0]!.env!.some((variable) => variable.valueFrom)).toBe(false);

    const secret = buildSecret(request, settings, SECRET_VALUES);
    expect(secret.stringData).toEqual({
      'git-http-header': SECRET_VALUES.gitHeader,
      'env.API_KEY': 'key-value-1',
      'env.MODE': 'fast',
      'secret.db_password': 'pw-value-2',
    });
    expect(secret.metadata!.name).toBe(job.metadata!.name);
  });

  it('gives the build container the MLflow run the worker made, from the Secret too', () => {
    const request = { ...requestWith({ env_vars: ['MODE=fast'] }), extraEnvKeys: ['MLFLOW_RUN_ID', 'MLFLOW_TRACKING_PASSWORD', 'MODE'] };
    const build = buildJob(request, settings).spec!.template.spec!.initContainers![2]!;
    const fromSecret = build.env!.filter((variable) => variable.valueFrom).map((variable) => [variable.name, variable.valueFrom!.secretKeyRef!.key]);
    expect(fromSecret).toEqual([
      ['MODE', 'env.MODE'],
      ['MLFLOW_RUN_ID', 'env.MLFLOW_RUN_ID'],
      ['MLFLOW_TRACKING_PASSWORD', 'env.MLFLOW_TRACKING_PASSWORD'],
    ]);
    expect(build.env!.find((variable) => variable.name === 'REFIT_SECRET_ENV_KEYS')!.value).toBe('MLFLOW_TRACKING_PASSWORD');
  });

  it("points pip at the worker's index (trusted when it is plain http) and crane at the registry credentials", () => {
    const pod = buildJob(requestWith({}), settings).spec!.template.spec!;
    const env = Object.fromEntries(pod.initContainers![2]!.env!.map((variable) => [variable.name, variable.value]));
    expect(env).toMatchObject({ PIP_INDEX_URL: settings.pipIndexUrl, PIP_TRUSTED_HOST: '10.0.0.1', REFIT_PUSH_IMAGE: 'true', REFIT_BUILD_STEP: 'build' });
    const push = Object.fromEntries(pod.containers[0]!.env!.map((variable) => [variable.name, variable.value]));
    expect(push).toMatchObject({ DOCKER_CONFIG: '/var/run/refit/docker', REFIT_BUILD_STEP: 'push' });
    const plain = Object.fromEntries(
      buildJob(requestWith({ push_image: false }), {
        ...settings,
        pipIndexUrl: 'https://pypi.example/simple',
        registrySecret: undefined,
      }).spec!.template.spec!.containers[0]!.env!.map((variable) => [variable.name, variable.value]),
    );
    expect(plain).not.toHaveProperty('PIP_TRUSTED_HOST');
    expect(plain).not.toHaveProperty('DOCKER_CONFIG');
    expect(plain.REFIT_PUSH_IMAGE).toBe('false');
  });

  it("reads the build container's result and nothing else as one", () => {
    expect(parseTerminationMessage('{"ok":true,"metrics":{"f1":0.9}}')).toEqual({ ok: true, metrics: { f1: 0.9 } });
    expect(parseTerminationMessage('Traceback (most recent call last):\n...')).toBeUndefined();
    expect(parseTerminationMessage('{"metrics":{}}')).toBeUndefined();
    expect(parseTerminationMessage(undefined)).toBeUndefined();
  });
});

describe('REFIT_BUILD_RUNNER', () => {
  it('follows the deploy target by default and says what the kubernetes runner lacks', async () => {
    expect(await buildRunnerFromEnvironment({})).toEqual({ kind: 'local' });
    expect(await buildRunnerFromEnvironment({ REFIT_DEPLOY_TARGET: 'kubernetes', REFIT_BUILD_RUNNER: 'local' })).toEqual({ kind: 'local' });
    await expect(buildRunnerFromEnvironment({ REFIT_DEPLOY_TARGET: 'kubernetes' })).rejects.toThrow(
      /builds run on the cluster by default, which needs REFIT_RUNTIME_IMAGE and REFIT_IMAGE_REPOSITORY: .*; or set REFIT_BUILD_RUNNER=local/,
    );
    await expect(
      buildRunnerFromEnvironment({ REFIT_DEPLOY_TARGET: 'kubernetes', REFIT_BUILD_RUNNER: 'kubernetes', REFIT_RUNTIME_IMAGE: 'r/p:1' }),
    ).rejects.toThrow(/^REFIT_BUILD_RUNNER=kubernetes needs REFIT_IMAGE_REPOSITORY: /);
    await expect(buildRunnerFromEnvironment({ REFIT_BUILD_RUNNER: 'kubernetes' })).rejects.toThrow(/needs REFIT_DEPLOY_TARGET=kubernetes/);
    await expect(buildRunnerFromEnvironment({ REFIT_BUILD_RUNNER: 'docker' })).rejects.toThrow(/must be local or kubernetes, not "docker"/);
  });
});
