// The pure parts of the Kubernetes target, without a cluster: names, manifests, PromQL, the choice of
// autoscaler, ownership markers, conflicts, rollout progress.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { buildManifests, type ManifestInput } from '../../activities/deploy/kubernetes/manifests.js';
import { labelValue, objectName, secretObjectName } from '../../activities/deploy/kubernetes/names.js';
import { applyConflict, checkOwnership, gitOpsOwner } from '../../activities/deploy/kubernetes/ownership.js';
import { triggerQuery } from '../../activities/deploy/kubernetes/promql.js';
import { describePods, rolloutProgress } from '../../activities/deploy/kubernetes/rollout.js';
import { chooseScaler } from '../../activities/deploy/kubernetes/scaling.js';
import { releaseHistory, releaseOfDeployment } from '../../activities/deploy/kubernetes/servingRecord.js';
import { cpuQuantity } from '../../activities/deploy/kubernetes/workload.js';
import { ErrorTypes } from '../../shared/errors.js';
import { DeploymentSpecifications } from '../../spec/schema/deployment.js';

const spec = (fields: Record<string, unknown> = {}) => DeploymentSpecifications.parse(fields);
const trigger = (metric_type: string, aggregation_type: string, time_period = 4, threshold = 60) => ({
  query_spec: { metric_type, aggregation_type, time_period },
  threshold,
});
const autoScale = (...triggers: ReturnType<typeof trigger>[]) => spec({ auto_scale_config: { max_replica_count: 10, triggers } }).auto_scale_config!;

function input(fields: Record<string, unknown> = {}, overrides: Partial<ManifestInput> = {}): ManifestInput {
  return {
    release: {
      automation: 'retrain_my_model',
      modelId: 'my-model-id',
      buildId: 'my-model-id-0123456789ab',
      spec: spec({ number_of_pods: 1, variation_name: 'B', ...fields }),
      metrics: { f1_score: 0.7 },
    },
    namespace: 'models',
    variations: [],
    secretKeys: {},
    features: { keda: true, gatewayApi: true },
    settings: { imageRepository: 'ghcr.io/acme/models/', prometheusUrl: 'http://prometheus:9090' },
    ...overrides,
  };
}

const kinds = (objects: KubernetesObject[]) => objects.map((object) => `${object.kind}/${object.metadata?.name}`);

describe('Kubernetes names', () => {
  it('are DNS-safe, lower case, start with a letter, and stay distinct when shortened', () => {
    expect(objectName('my-model-id', 'B')).toBe('my-model-id-b');
    expect(objectName('fraud_model', 'default')).toBe('fraud-model-default');
    expect(objectName('1st-model')).toBe('m-1st-model');
    const long = objectName('m'.repeat(63), 'variation-a');
    expect(long).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(long).not.toBe(objectName('m'.repeat(63), 'variation-b'));
  });

  it('keep label values and secret names as they are when Kubernetes allows them', () => {
    expect(labelValue('B')).toBe('B');
    expect(labelValue(`${'x'.repeat(63)}-0123456789ab`)).toMatch(/^x{56}-[0-9a-f]{6}$/);
    expect(secretObjectName('git.token')).toBe('git.token');
    expect(secretObjectName('token_secret_name')).toBe('token-secret-name');
    expect(secretObjectName('GitToken')).toBe('gittoken');
  });

  it('give CPU as canonical quantities', () => {
    expect([2, 0.5, 1.25, 0.0001].map(cpuQuantity)).toEqual(['2', '500m', '1250m', '1m']);
  });
});

describe('buildManifests', () => {
  it("makes a ServiceAccount and a Deployment first, then the model's Service, for the seed's specification", () => {
    const plan = buildManifests(input());
    expect(kinds(plan.workload)).toEqual(['ServiceAccount/my-model-id-b', 'Deployment/my-model-id-b']);
    expect(kinds(plan.serving)).toEqual(['Service/my-model-id']);
    expect(plan.obsolete.map((ref) => `${ref.kind}/${ref.metadata.name}`)).toEqual([
      'Service/my-model-id-b',
      'HTTPRoute/my-model-id',
      'HorizontalPodAutoscaler/my-model-id-b',
      'ScaledObject/my-model-id-b',
    ]);
    const deployment = plan.workload[1] as V1Deployment;
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.selector.matchLabels).toEqual({ 'refit.dev/model': 'my-model-id', 'refit.dev/variation': 'B' });
    const container = deployment.spec!.template.spec!.containers[0]!;
    expect(container.image).toBe('ghcr.io/acme/models/my-model-id:my-model-id-0123456789ab');
    expect(container.command).toEqual(['python', '-m', 'refit_sdk.serve']);
    expect(container.resources).toEqual({ requests: { cpu: '2', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } });
    expect(releaseOfDeployment(deployment)).toEqual(input().release);
    expect(deployment.spec!.template.metadata!.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('runs the image a build pushed by its digest, and keeps that digest in the record for rollbacks', () => {
    const pinned = `ghcr.io/acme/models/my-model-id@sha256:${'a'.repeat(64)}`;
    const base = input();
    const pinnedInput = { ...base, release: { ...base.release, image: pinned } };
    const deployment = buildManifests(pinnedInput).workload[1] as V1Deployment;
    expect(deployment.spec!.template.spec!.containers[0]!.image).toBe(pinned);
    expect(deployment.spec!.template.metadata!.annotations?.['refit.dev/image']).toBe(pinned);
    expect(releaseOfDeployment(deployment)).toEqual(pinnedInput.release);
    // A record without an image has no such annotation: objects deployed before it are unchanged by it.
    expect((buildManifests(base).workload[1] as V1Deployment).spec!.template.metadata!.annotations).not.toHaveProperty('refit.dev/image');
  });

  it('pulls with the registry credentials Secret when the worker names one, and sets none otherwise', () => {
    const base = input();
    const withCredentials = buildManifests({ ...base, settings: { ...base.settings, imagePullSecret: 'registry-credentials' } }).workload[1] as V1Deployment;
    expect(withCredentials.spec!.template.spec!.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
    expect((buildManifests(base).workload[1] as V1Deployment).spec!.template.spec).not.toHaveProperty('imagePullSecrets');
  });

  it('is the same for the same input, so applying it again changes nothing', () => {
    expect(JSON.stringify(buildManifests(input()))).toBe(JSON.stringify(buildManifests(input())));
  });

  it('turns secret env_vars into secretKeyRefs and keeps literal ones', () => {
    const plan = buildManifests(input({ env_vars: ['API_TOKEN=secret:scoring_token', 'MODE=fast'] }, { secretKeys: { scoring_token: 'token' } }));
    const env = (plan.workload[1] as V1Deployment).spec!.template.spec!.containers[0]!.env;
    expect(env?.map((variable) => variable.name)).toEqual(['API_TOKEN', 'MODE', 'PYTHONUNBUFFERED', 'REFIT_POD_NAME']);
    const unbuffered = buildManifests(input({ env_vars: ['PYTHONUNBUFFERED=0'] }));
    expect((unbuffered.workload[1] as V1Deployment).spec!.template.spec!.containers[0]!.env).toEqual([
      { name: 'PYTHONUNBUFFERED', value: '0' },
      { name: 'REFIT_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
    expect(env?.slice(0, 2)).toEqual([
      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'scoring-token', key: 'token' } } },
      { name: 'MODE', value: 'fast' },
    ]);
  });

  it('adds a Service per variation and an HTTPRoute with equal weights once a model has several', () => {
    const plan = buildManifests(input({}, { variations: ['A', 'B'] }));
    expect(kinds(plan.serving)).toEqual(['Service/my-model-id', 'Service/my-model-id-a', 'Service/my-model-id-b', 'HTTPRoute/my-model-id']);
    const route = plan.serving[3] as KubernetesObject & { spec: any };
    expect(route.spec.rules.at(-1).backendRefs).toEqual([
      { name: 'my-model-id-a', port: 80, weight: 1 },
      { name: 'my-model-id-b', port: 80, weight: 1 },
    ]);
    expect(plan.notes).toEqual([expect.stringContaining('set REFIT_GATEWAY')]);
    const withoutGatewayApi = buildManifests(input({}, { variations: ['A'], features: { keda: true, gatewayApi: false } }));
    expect(kinds(withoutGatewayApi.serving)).not.toContain('HTTPRoute/my-model-id');
    expect(withoutGatewayApi.notes).toEqual([
      'the cluster has no Gateway API HTTPRoute: variations A, B share the Service my-model-id in proportion to their pods',
    ]);
  });

  it('leaves replicas to the autoscaler and makes a ScaledObject, or an HPA without KEDA', () => {
    const fields = { auto_scale_config: { max_replica_count: 4, cool_down_period: 120, triggers: [trigger('cpu', 'avg', 2, 1.5)] } };
    const keda = buildManifests(input(fields));
    expect((keda.workload[1] as V1Deployment).spec?.replicas).toBeUndefined();
    expect(kinds(keda.serving)).toContain('ScaledObject/my-model-id-b');
    const hpa = buildManifests(input(fields, { features: { keda: false, gatewayApi: true } }));
    const autoscaler = hpa.serving.find((object) => object.kind === 'HorizontalPodAutoscaler') as KubernetesObject & { spec: any };
    expect(autoscaler.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'my-model-id-b' },
      minReplicas: 1,
      maxReplicas: 4,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '1500m' } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 120 } },
    });
    expect(hpa.notes[0]).toMatch(/^KEDA is not installed: auto_scale_config became a HorizontalPodAutoscaler/);
  });

  it('fails before anything is applied when a trigger needs KEDA and the cluster has none', () => {
    expect(() =>
      buildManifests(
        input(
          { auto_scale_config: { max_replica_count: 4, triggers: [trigger('cpu', 'avg'), trigger('latency', 'p95')] } },
          { features: { keda: false, gatewayApi: false } },
        ),
      ),
    ).toThrow(
      expect.objectContaining({
        type: ErrorTypes.DeploymentFailed,
        message: expect.stringMatching(/^auto_scale_config\.triggers\[1\] \(latency\) needs KEDA/),
      }),
    );
  });
});

describe('chooseScaler', () => {
  it('uses KEDA whenever it is installed, an HPA for cpu and memory only, and nothing else', () => {
    expect(chooseScaler(autoScale(trigger('latency', 'max')), true)).toEqual({ kind: 'keda', notes: [] });
    expect(chooseScaler(autoScale(trigger('cpu', 'avg'), trigger('memory', 'max')), false)).toMatchObject({ kind: 'hpa' });
    expect(chooseScaler(autoScale(trigger('gpu', 'avg')), false)).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringContaining('triggers[0] (gpu) needs KEDA'),
    });
  });

  it("says when cool_down_period is longer than the window KEDA's HPA can hold", () => {
    const config = (period: number) => ({ ...autoScale(trigger('latency', 'max')), cool_down_period: period });
    expect(chooseScaler(config(7200), true)).toEqual({ kind: 'keda', notes: [expect.stringMatching(/^cool_down_period is capped at 3600 s/)] });
    expect(chooseScaler(config(3600), true)).toEqual({ kind: 'keda', notes: [] });
  });
});

describe('triggerQuery', () => {
  const query = (metric: string, aggregation: string) => triggerQuery(autoScale(trigger(metric, aggregation, 4)).triggers[0]!, 'models', 'churn-a');
  const pods = 'namespace="models",pod=~"churn-a-[a-z0-9]+-[a-z0-9]{5}"';

  it('aggregates a per-pod series over the window across pods', () => {
    expect(query('cpu', 'sum')).toBe(`sum(sum by (pod) (rate(container_cpu_usage_seconds_total{${pods},container="model"}[4m])))`);
    expect(query('memory', 'max')).toBe(`max(sum by (pod) (max_over_time(container_memory_working_set_bytes{${pods},container="model"}[4m])) / 1048576)`);
    expect(query('gpu', 'p90')).toBe(`quantile(0.9, avg by (pod) (avg_over_time(DCGM_FI_DEV_GPU_UTIL{${pods}}[4m])))`);
    expect(query('throughput', 'avg')).toBe(`avg(sum by (pod) (rate(refit_requests_total{${pods}}[4m])))`);
    expect(query('error_rate', 'max')).toContain(`code=~"5.."`);
  });

  it('reads latency in milliseconds from the request histogram', () => {
    expect(query('latency', 'p99')).toBe(`histogram_quantile(0.99, sum by (le) (rate(refit_request_duration_seconds_bucket{${pods}}[4m]))) * 1000`);
    expect(query('latency', 'avg')).toBe(
      `avg(sum by (pod) (rate(refit_request_duration_seconds_sum{${pods}}[4m])) / sum by (pod) (rate(refit_request_duration_seconds_count{${pods}}[4m])) * 1000)`,
    );
  });
});

describe('ownership', () => {
  const object = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}, managers: string[] = []): KubernetesObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'churn', namespace: 'models', labels, annotations, managedFields: managers.map((manager) => ({ manager })) },
  });

  it('recognises Argo CD and Flux by their tracking markers and field managers', () => {
    expect(gitOpsOwner(object({}, { 'argocd.argoproj.io/tracking-id': 'app:/Service:models/churn' }))).toMatch(/^Argo CD/);
    expect(gitOpsOwner(object({ 'argocd.argoproj.io/instance': 'app' }))).toMatch(/^Argo CD/);
    expect(gitOpsOwner(object({ 'app.kubernetes.io/instance': 'app' }, { 'argocd.argoproj.io/sync-options': 'Prune=false' }))).toMatch(/^Argo CD/);
    // Helm sets app.kubernetes.io/instance too: alone it is no sign of Argo CD.
    expect(gitOpsOwner(object({ 'app.kubernetes.io/instance': 'release' }))).toBeUndefined();
    expect(gitOpsOwner(object({ 'helm.toolkit.fluxcd.io/name': 'models', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' }))).toBe(
      'Flux (helm.toolkit.fluxcd.io/name=models, namespace flux-system)',
    );
    expect(gitOpsOwner(object({}, {}, ['kube-controller-manager', 'kustomize-controller']))).toBe(
      'Flux (kustomize-controller) (field manager kustomize-controller)',
    );
  });

  it('refuses objects Refit did not create, and another variation that maps to the same name', () => {
    const ours = (variation: string) => object({ 'app.kubernetes.io/managed-by': 'refit', 'refit.dev/variation': variation });
    expect(() => checkOwnership(object({}, {}, ['kubectl-create']), ours('B'))).toThrow(/is managed by kubectl-create \(it was not created by Refit\)/);
    expect(() => checkOwnership(ours('b'), ours('B'))).toThrow('Service models/churn belongs to variation "b", and "B" maps to the same Kubernetes name');
    expect(() => checkOwnership(ours('B'), ours('B'))).not.toThrow();
  });

  it('reads the managers and fields of a server-side apply conflict from the Status body', () => {
    const body = JSON.stringify({
      kind: 'Status',
      code: 409,
      reason: 'Conflict',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-edit" using apps/v1', field: '.spec.replicas' }] },
    });
    expect(applyConflict({ code: 409, body })).toEqual({ managers: ['kubectl-edit'], fields: ['.spec.replicas'] });
    expect(applyConflict({ code: 409, body: '{"reason":"AlreadyExists"}' })).toBeUndefined();
    expect(applyConflict({ code: 422, body })).toBeUndefined();
  });
});

describe('rollouts', () => {
  const deployment = (status: V1Deployment['status'], replicas = 2): V1Deployment => ({
    metadata: { generation: 3 },
    spec: { replicas, selector: {}, template: {} },
    status,
  });

  it('finish when the new revision is observed, updated, alone and available', () => {
    expect(rolloutProgress(deployment({ observedGeneration: 2 }), 3)).toMatchObject({
      done: false,
      waitingFor: 'the deployment controller to see the new revision',
    });
    expect(rolloutProgress(deployment({ observedGeneration: 3, updatedReplicas: 1, replicas: 3 }), 3).waitingFor).toBe('new pods: 1 of 2 created');
    expect(rolloutProgress(deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 3, availableReplicas: 3 }), 3).waitingFor).toBe(
      '1 pod(s) of the previous build to stop',
    );
    expect(rolloutProgress(deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 3, availableReplicas: 2 }), 3).waitingFor).toBe(
      'new pods to be ready: 1 of 2 available (1 pod(s) of the previous build serve meanwhile)',
    );
    expect(rolloutProgress(deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }), 3).waitingFor).toBe(
      'new pods to be ready: 1 of 2 available',
    );
    expect(rolloutProgress(deployment({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }), 3).done).toBe(true);
    const stuck = deployment({
      observedGeneration: 3,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "x" has timed out progressing.' }],
    });
    expect(rolloutProgress(stuck, 3)).toMatchObject({ done: false, failed: 'ReplicaSet "x" has timed out progressing.' });
  });

  it('explain why pods are not ready', () => {
    const pod = (status: V1Pod['status'], nodeName?: string): V1Pod => ({ spec: { containers: [], nodeName }, status });
    expect(
      describePods([
        pod({ phase: 'Pending' }),
        pod({ phase: 'Pending' }),
        pod(
          {
            phase: 'Pending',
            containerStatuses: [
              {
                name: 'model',
                image: 'x',
                imageID: '',
                ready: false,
                restartCount: 0,
                state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } },
              },
            ],
          },
          'node-1',
        ),
      ]),
    ).toBe('2 pods pending, not scheduled to a node yet; 1 pod waiting: ImagePullBackOff (not found)');
  });

  it('keep the history of builds from the ReplicaSets, newest revision first', () => {
    const set = (revision: number, buildId: string) => {
      const template = (buildManifests(input({}, {})).workload[1] as V1Deployment).spec!.template;
      const annotations = { ...template.metadata!.annotations, 'refit.dev/build-id': buildId };
      return {
        metadata: { annotations: { 'deployment.kubernetes.io/revision': String(revision) } },
        spec: { selector: {}, template: { ...template, metadata: { ...template.metadata, annotations } } },
      };
    };
    expect(releaseHistory([set(1, 'b1'), set(3, 'b3'), set(2, 'b2'), set(4, 'b1')]).map((release) => release.buildId)).toEqual(['b1', 'b3', 'b2']);
  });
});
