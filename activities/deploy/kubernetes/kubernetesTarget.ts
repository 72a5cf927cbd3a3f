import type { KubeConfig, KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import type { DeploymentRequest, DeploymentResult, DeploymentTarget, ServingStatus } from '../deploymentTarget.js';
import { Cluster } from './cluster.js';
import { placeOfEnvironment, type EnvironmentMapping } from './environments.js';
import { buildManifests, type ClusterFeatures, type TargetSettings } from './manifests.js';
import { LABELS, MANAGED_BY, labelValue, objectName, objectNamesFor, selectorString, variationSelector } from './names.js';
import { checkOwnership } from './ownership.js';
import { removeVariations } from './removal.js';
import { describePods, RolloutFailed, waitForRollout } from './rollout.js';
import { secretKeysFor } from './secretReferences.js';
import { releaseHistory, releaseOfDeployment, servingVariationOf, type Release } from './servingRecord.js';

export interface KubernetesTargetOptions extends Partial<Omit<TargetSettings, 'imageRepository'>> {
  kubeConfig: KubeConfig;
  /** The default environment's namespace (and, in "contexts" mode, of contexts that name none). */
  namespace: string;
  /** What a deployment_spec environment is: a namespace (default) or a kubeconfig context. */
  environments?: EnvironmentMapping;
  /**
   * Images are `${imageRepository}/${modelId}:${buildId}`. Building and pushing them is the build system's
   * job: this target only points Deployments at them.
   */
  imageRepository: string;
  fieldManager?: string;
  pollMs?: number;
  /** How long a rollback inside a failed apply waits for the previous build to be ready again. */
  rollbackWaitMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Replaces discovery of KEDA and the Gateway API (tests). */
  detectFeatures?: (cluster: Cluster) => Promise<ClusterFeatures>;
}

type Progress = { signal?: AbortSignal; onProgress?: (message: string) => void };

export const DEFAULT_PROMETHEUS_URL = 'http://prometheus-operated.monitoring.svc:9090';

/**
 * Serves models on Kubernetes: per variation a ServiceAccount and a Deployment, per model a Service, and for
 * A/B tests per-variation Services behind an HTTPRoute; auto_scale_config as a KEDA ScaledObject or an HPA.
 * Everything is applied server-side under one field manager and never forced over another manager. A new
 * build's rollout must finish within deployment_process_timeout_limit; if it does not, the previous build's
 * objects are applied again and apply() fails with the reason.
 */
export class KubernetesDeploymentTarget implements DeploymentTarget {
  readonly name = 'kubernetes';
  private readonly clusters = new Map<string, Cluster>();
  private readonly settings: TargetSettings;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: KubernetesTargetOptions) {
    this.settings = {
      imageRepository: options.imageRepository,
      prometheusUrl: options.prometheusUrl ?? DEFAULT_PROMETHEUS_URL,
      gateway: options.gateway,
      weights: options.weights,
    };
    this.now = options.clock ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async apply(request: DeploymentRequest, context: Progress = {}): Promise<DeploymentResult> {
    const { automation, modelId, buildId, spec, metrics } = request;
    return this.release(this.clusterFor(request.environment), request.environment, { automation, modelId, buildId, spec, metrics }, context, true);
  }

  async rollback(target: { modelId: string; environment: string; variation: string; buildId: string }): Promise<DeploymentResult> {
    const cluster = this.clusterFor(target.environment);
    const current = releaseOfDeployment(await cluster.readDeployment(objectNamesFor(target.modelId, target.variation).variation));
    const release =
      current?.buildId === target.buildId
        ? current
        : releaseHistory(await cluster.replicaSets(selectorString(variationSelector(target.modelId, target.variation)))).find((entry) => entry.buildId === target.buildId);
    if (!release) {
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `build ${target.buildId} is not in the kept history of variation "${target.variation}" of ${target.modelId} in ${cluster.where}, so it cannot be put back`,
      );
    }
    return this.release(cluster, target.environment, release, {}, false);
  }

  async status(modelId: string, environment: string): Promise<ServingStatus | undefined> {
    const cluster = this.clusterFor(environment);
    const variations: ServingStatus['variations'] = {};
    const [deployments, replicaSets] = await Promise.all([cluster.deployments(modelSelector(modelId)), cluster.replicaSets(modelSelector(modelId))]);
    for (const deployment of deployments) {
      const owned = replicaSets.filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.uid === deployment.metadata?.uid));
      const serving = servingVariationOf(deployment, owned);
      const variation = releaseOfDeployment(deployment)?.spec.variation_name;
      if (serving && variation) variations[variation] = serving;
    }
    if (!Object.keys(variations).length) return undefined;
    return { modelId, environment, url: serviceUrl(modelId, cluster.namespace), variations };
  }

  async remove(modelId: string, environment: string, variation?: string): Promise<void> {
    const cluster = this.clusterFor(environment);
    await removeVariations(cluster, await this.featuresOf(cluster), modelId, variation, this.settings);
  }

  private clusterFor(environment: string): Cluster {
    const place = placeOfEnvironment(environment, { kubeConfig: this.options.kubeConfig, namespace: this.options.namespace, environments: this.options.environments ?? 'namespaces' });
    const key = `${place.context ?? ''}/${place.namespace}`;
    let cluster = this.clusters.get(key);
    if (!cluster) {
      cluster = new Cluster(place.kubeConfig, place.namespace, this.options.fieldManager ?? MANAGED_BY, place.where);
      this.clusters.set(key, cluster);
    }
    return cluster;
  }

  private featuresOf(cluster: Cluster): Promise<ClusterFeatures> {
    return this.options.detectFeatures ? this.options.detectFeatures(cluster) : cluster.features();
  }

  /** Applies a release's objects, waits for its rollout, and on failure puts the previous release back (when `rollBack`). */
  private async release(cluster: Cluster, environment: string, release: Release, context: Progress, rollBack: boolean): Promise<DeploymentResult> {
    const { modelId, buildId } = release;
    const variation = release.spec.variation_name;
    const names = objectNamesFor(modelId, variation);
    const [features, current, siblings, secretKeys] = await Promise.all([
      this.featuresOf(cluster),
      cluster.readDeployment(names.variation),
      cluster.deployments(modelSelector(modelId)),
      secretKeysFor(cluster.core, cluster.namespace, release.spec.env_vars),
    ]);
    const variations = siblings.map((deployment) => releaseOfDeployment(deployment)?.spec.variation_name).filter((name): name is string => Boolean(name));
    const plan = buildManifests({ release, namespace: cluster.namespace, variations, secretKeys, features, settings: this.settings });
    const before = await this.preflight(cluster, [...plan.workload, ...plan.serving]);
    const previous = releaseOfDeployment(current);
    const previousBuildId =
      previous && previous.buildId !== buildId
        ? previous.buildId
        : releaseHistory(await cluster.replicaSets(selectorString(variationSelector(modelId, variation)))).find((entry) => entry.buildId !== buildId)?.buildId;

    context.onProgress?.(`applying build ${buildId} to ${cluster.where}`);
    const after = new Map<string, string | undefined>();
    let deployment: V1Deployment | undefined;
    for (const object of plan.workload) {
      const applied = await cluster.apply(object);
      after.set(keyOf(object), versionOf(applied));
      if (applied.kind === 'Deployment') deployment = applied as V1Deployment;
    }
    try {
      await this.awaitRollout(cluster, deployment!, release, this.now() + release.spec.deployment_process_timeout_limit * 1000, context);
    } catch (err) {
      const reason = err instanceof RolloutFailed ? err.message : `the rollout could not be followed: ${(err as Error).message}`;
      if (!rollBack) throw new RefitError(ErrorTypes.DeploymentFailed, `build ${buildId} of ${modelId} was applied again in ${cluster.where}, but ${reason}`, { cause: err });
      const outcome = await this.restore(cluster, previous, current, release, features).catch((restoreError: Error) => `rolling back failed too: ${restoreError.message}`);
      const message = `build ${buildId} of ${modelId} was not deployed to ${cluster.where} (rolled back: ${outcome}): ${reason}`;
      // A failure to follow the rollout (the API server was unreachable) is worth a retry; a failed rollout is not.
      if (err instanceof RolloutFailed) throw new RefitError(ErrorTypes.DeploymentFailed, message, { cause: err });
      throw new Error(message, { cause: err });
    }
    context.onProgress?.('rollout finished; applying Services, routes and autoscaling');
    for (const object of plan.serving) after.set(keyOf(object), versionOf(await cluster.apply(object)));
    let removed = 0;
    for (const ref of plan.obsolete) {
      const live = await cluster.read(ref);
      if (live?.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY && (await cluster.remove(ref))) removed++;
    }
    const changed = removed > 0 || [...after].some(([key, version]) => before.get(key) !== version);
    return { modelId, environment, variation, buildId, previousBuildId, url: serviceUrl(modelId, cluster.namespace), changed, notes: plan.notes };
  }

  /**
   * Before anything changes: objects that exist must be Refit's (not GitOps-tracked, not another model's), and a
   * server-side dry run of every object must pass (validation, conflicts with other managers). Returns their versions.
   */
  private async preflight(cluster: Cluster, objects: KubernetesObject[]): Promise<Map<string, string | undefined>> {
    const versions = new Map<string, string | undefined>();
    for (const object of objects) {
      const live = await cluster.read(object);
      if (live) checkOwnership(live, object);
      versions.set(keyOf(object), live ? versionOf(live) : undefined);
    }
    await Promise.all(objects.map((object) => cluster.apply(object, { dryRun: true })));
    return versions;
  }

  private async awaitRollout(cluster: Cluster, deployment: V1Deployment, release: Release, deadline: number, context: Progress): Promise<void> {
    const name = deployment.metadata!.name!;
    const podSelector = selectorString({ ...variationSelector(release.modelId, release.spec.variation_name), [LABELS.build]: labelValue(release.buildId) });
    await waitForRollout({
      read: () => cluster.apps.readNamespacedDeployment({ name, namespace: cluster.namespace }),
      explain: async () => `pods of build ${release.buildId}: ${describePods(await cluster.pods(podSelector))}`,
      generation: deployment.metadata?.generation ?? 1,
      deadline,
      pollMs: this.options.pollMs ?? 2000,
      now: this.now,
      sleep: this.sleep,
      signal: context.signal,
      onProgress: context.onProgress,
    });
  }

  /** Puts the release that served before back (or removes what a first deploy created); says what it did. */
  private async restore(cluster: Cluster, previous: Release | undefined, current: V1Deployment | undefined, failed: Release, features: ClusterFeatures): Promise<string> {
    const variation = failed.spec.variation_name;
    if (!current) {
      await removeVariations(cluster, features, failed.modelId, variation, this.settings);
      return `nothing served variation "${variation}" before, so its objects were removed`;
    }
    if (!previous) return `the Deployment ${current.metadata?.name} had no Refit record of its previous build, so it was left as the rollout left it`;
    const secretKeys = await secretKeysFor(cluster.core, cluster.namespace, previous.spec.env_vars);
    const plan = buildManifests({ release: previous, namespace: cluster.namespace, variations: [], secretKeys, features, settings: this.settings });
    let deployment: V1Deployment | undefined;
    for (const object of plan.workload) {
      const applied = await cluster.apply(object);
      if (applied.kind === 'Deployment') deployment = applied as V1Deployment;
    }
    try {
      await this.awaitRollout(cluster, deployment!, previous, this.now() + (this.options.rollbackWaitMs ?? 60_000), {});
      return `build ${previous.buildId} serves variation "${variation}" again`;
    } catch (err) {
      return `build ${previous.buildId} was put back for variation "${variation}" but is not ready yet: ${(err as Error).message}`;
    }
  }
}

function modelSelector(modelId: string): string {
  return selectorString({ [LABELS.model]: labelValue(modelId), [LABELS.managedBy]: MANAGED_BY });
}

function keyOf(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name}`;
}

/** The generation where an object has one (status updates by controllers do not change it), else the resourceVersion. */
function versionOf(object: KubernetesObject): string | undefined {
  const { generation, resourceVersion } = object.metadata ?? {};
  return generation ? `generation ${generation}` : resourceVersion;
}

function serviceUrl(modelId: string, namespace: string): string {
  return `http://${objectName(modelId)}.${namespace}.svc.cluster.local`;
}
