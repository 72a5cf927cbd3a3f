import type { KubeConfig } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import type { DeployContext, DeploymentResult, DeploymentTarget, ServingStatus } from '../deploymentTarget.js';
import type { CanaryTarget, DeploymentRequest } from '../../../shared/deployment.js';
import { CanaryRollouts } from './canary.js';
import { Cluster } from './cluster.js';
import { placeOfEnvironment, type EnvironmentMapping } from './environments.js';
import type { ClusterFeatures, TargetSettings } from './manifests.js';
import { MANAGED_BY, objectNamesFor, selectorString, servingSelector, variationSelector } from './names.js';
import { planRelease } from './plan.js';
import { ReleaseApplier, serviceUrl } from './releaseApplier.js';
import { removeVariations } from './removal.js';
import { readScale } from './scaleStatus.js';
import type { VariationScale } from '../../../shared/operations.js';
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

export const DEFAULT_PROMETHEUS_URL = 'http://prometheus-operated.monitoring.svc:9090';

/**
 * Serves models on Kubernetes: per variation a ServiceAccount and a Deployment, per model a Service, and for
 * A/B tests and canaries per-variation Services behind an HTTPRoute; auto_scale_config as a KEDA ScaledObject or
 * an HPA. Everything is applied server-side under one field manager and never forced over another manager. A
 * new build's rollout must finish within deployment_process_timeout_limit; if it does not, the previous build's
 * objects are applied again and apply() fails with the reason.
 */
export class KubernetesDeploymentTarget implements DeploymentTarget {
  readonly name = 'kubernetes';
  private readonly clusters = new Map<string, Cluster>();
  private readonly applier: ReleaseApplier;
  private readonly canaries: CanaryRollouts;

  constructor(private readonly options: KubernetesTargetOptions) {
    const settings: TargetSettings = {
      imageRepository: options.imageRepository,
      prometheusUrl: options.prometheusUrl ?? DEFAULT_PROMETHEUS_URL,
      gateway: options.gateway,
      weights: options.weights,
      imagePullSecret: options.imagePullSecret,
    };
    this.applier = new ReleaseApplier({
      settings,
      pollMs: options.pollMs ?? 2000,
      rollbackWaitMs: options.rollbackWaitMs ?? 60_000,
      now: options.clock ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      features: (cluster) => (options.detectFeatures ? options.detectFeatures(cluster) : cluster.features()),
    });
    this.canaries = new CanaryRollouts(this.applier);
  }

  async apply(request: DeploymentRequest, context: DeployContext = {}): Promise<DeploymentResult> {
    return this.applier.release(this.clusterFor(request.environment), request.environment, releaseOf(request), context, { rollBack: true });
  }

  /** What apply() would change, from server-side dry-run applies of the same objects; nothing is written. */
  async plan(request: DeploymentRequest): Promise<string[]> {
    return planRelease(this.applier, this.clusterFor(request.environment), releaseOf(request));
  }

  async rollback(target: { modelId: string; environment: string; variation: string; buildId: string }): Promise<DeploymentResult> {
    const cluster = this.clusterFor(target.environment);
    const current = releaseOfDeployment(await cluster.readDeployment(objectNamesFor(target.modelId, target.variation).variation));
    const release =
      current?.buildId === target.buildId
        ? current
        : releaseHistory(await cluster.replicaSets(selectorString(variationSelector(target.modelId, target.variation)))).find(
            (entry) => entry.buildId === target.buildId,
          );
    if (!release) {
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `build ${target.buildId} is not in the kept history of variation "${target.variation}" of ${target.modelId} in ${cluster.where}, so it cannot be put back`,
      );
    }
    return this.applier.release(cluster, target.environment, release, {}, { rollBack: false });
  }

  async status(modelId: string, environment: string): Promise<ServingStatus | undefined> {
    const cluster = this.clusterFor(environment);
    const variations: ServingStatus['variations'] = {};
    const [deployments, replicaSets] = await Promise.all([cluster.deployments(servingSelector(modelId)), cluster.replicaSets(servingSelector(modelId))]);
    for (const deployment of deployments) {
      const owned = replicaSets.filter((set) => set.metadata?.ownerReferences?.some((owner) => owner.uid === deployment.metadata?.uid));
      const serving = servingVariationOf(deployment, owned);
      const variation = releaseOfDeployment(deployment)?.spec.variation_name;
      if (serving && variation) variations[variation] = serving;
    }
    if (!Object.keys(variations).length) return undefined;
    return { modelId, environment, url: serviceUrl(modelId, cluster.namespace), variations };
  }

  async scaleStatus(modelId: string, environment: string): Promise<{ where: string; variations: VariationScale[] }> {
    const cluster = this.clusterFor(environment);
    const { keda } = await this.applier.options.features(cluster);
    return { where: cluster.where, variations: await readScale(cluster, modelId, keda) };
  }

  async remove(modelId: string, environment: string, variation?: string): Promise<void> {
    const cluster = this.clusterFor(environment);
    await removeVariations(cluster, await this.applier.options.features(cluster), modelId, variation, this.applier.settings);
  }

  /** Runs the build as its own Deployment beside the variation's, taking `percent` of the variation's traffic through the HTTPRoute. */
  async startCanary(request: DeploymentRequest, percent: number, context: DeployContext = {}): Promise<DeploymentResult> {
    return this.canaries.start(this.clusterFor(request.environment), request.environment, releaseOf(request), percent, context);
  }

  async setCanaryWeight(target: CanaryTarget, percent: number): Promise<void> {
    await this.canaries.setWeight(this.clusterFor(target.environment), target, percent);
  }

  /** The canary's build becomes the variation's build; `context` reports the rollout of the variation's Deployment. */
  async promoteCanary(target: CanaryTarget, context: DeployContext = {}): Promise<DeploymentResult> {
    return this.canaries.promote(this.clusterFor(target.environment), target.environment, target, context);
  }

  async abortCanary(target: CanaryTarget): Promise<void> {
    await this.canaries.abort(this.clusterFor(target.environment), target);
  }

  private clusterFor(environment: string): Cluster {
    const place = placeOfEnvironment(environment, {
      kubeConfig: this.options.kubeConfig,
      namespace: this.options.namespace,
      environments: this.options.environments ?? 'namespaces',
    });
    const key = `${place.context ?? ''}/${place.namespace}`;
    let cluster = this.clusters.get(key);
    if (!cluster) {
      cluster = new Cluster(place.kubeConfig, place.namespace, this.options.fieldManager ?? MANAGED_BY, place.where);
      this.clusters.set(key, cluster);
    }
    return cluster;
  }
}

function releaseOf(request: DeploymentRequest): Release {
  const { automation, modelId, buildId, spec, metrics, image } = request;
  return { automation, modelId, buildId, spec, metrics, ...(image ? { image } : {}) };
}
