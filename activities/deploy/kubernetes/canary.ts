// Canary rollouts on Kubernetes: the new build runs as its own Deployment beside the variation's, and the
// model's HTTPRoute gives its Service a share of the variation's traffic. Everything a resumed rollout needs is
// in the cluster, never in this process: the canary Deployment's pod template records its build (as the
// variation's does), the canary Service records its share, and the Deployment is deleted last, so that while
// it exists a canary exists. Every step is idempotent: a retried activity picks up where the last one stopped.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import type { DeployContext, DeploymentResult } from '../deploymentTarget.js';
import type { CanaryTarget } from '../../../shared/deployment.js';
import { canaryDeploymentFor, canaryReleaseOf, canarySelector, canaryServiceAccountFor } from './canaryWorkload.js';
import type { Cluster } from './cluster.js';
import { applyRouting, routeStateOf, routingObjects, servingVariations, withoutCanary } from './liveRouting.js';
import { NO_GATEWAY_NOTE, type ClusterFeatures } from './manifests.js';
import { canaryObjectName, objectNamesFor, selectorString, variationSelector } from './names.js';
import { serviceUrl, type ReleaseApplier } from './releaseApplier.js';
import { canaryRefs, deleteIfRefits } from './removal.js';
import { RolloutFailed } from './rollout.js';
import { canaryServiceFor } from './routing.js';
import { secretKeysFor } from './secretReferences.js';
import { releaseHistory, releaseOfDeployment, type Release } from './servingRecord.js';
import { imageOf } from './workload.js';

export class CanaryRollouts {
  constructor(private readonly applier: ReleaseApplier) {}

  /** Runs the release beside the variation's build once its pods are ready, with `percent` of the variation's traffic. */
  async start(cluster: Cluster, environment: string, release: Release, percent: number, context: DeployContext): Promise<DeploymentResult> {
    const { modelId, buildId } = release;
    const variation = release.spec.variation_name;
    const namespace = cluster.namespace;
    const features = await this.applier.options.features(cluster);
    if (!features.gatewayApi) {
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `canary rollouts on Kubernetes need the Gateway API, and ${cluster.where} has no HTTPRoute resource (gateway.networking.k8s.io/v1): ` +
          'install the Gateway API CRDs and a Gateway controller (https://gateway-api.sigs.k8s.io/guides/), or remove rollout from the automation',
      );
    }
    const stable = releaseOfDeployment(await cluster.readDeployment(objectNamesFor(modelId, variation).variation));
    if (!stable) {
      // Nothing serves this variation yet: there is nothing to compare against, so it takes all traffic.
      const result = await this.applier.release(cluster, environment, release, context, { rollBack: true });
      return {
        ...result,
        previousBuildId: undefined,
        notes: [...result.notes, 'no build served this variation before, so the canary took all traffic at once'],
      };
    }
    const earlier = canaryReleaseOf(await cluster.readDeployment(canaryObjectName(modelId, variation)), modelId);
    if (earlier && earlier.buildId !== buildId) {
      context.onProgress?.(`removing the canary of build ${earlier.buildId}, which no rollout finished`);
      await this.remove(cluster, features, modelId, variation);
    }

    const secretKeys = await secretKeysFor(cluster.core, namespace, release);
    const image = release.image ?? imageOf(this.applier.settings.imageRepository, modelId, buildId);
    const workload = [
      canaryServiceAccountFor(release, namespace),
      canaryDeploymentFor(release, { namespace, image, secretKeys, imagePullSecret: this.applier.settings.imagePullSecret }),
    ];
    const serving = await this.routedWith(cluster, features, release, percent);
    await this.applier.preflight(cluster, [...workload, ...serving]);
    context.onProgress?.(`starting the canary of build ${buildId} beside build ${stable.buildId} in ${cluster.where}`);
    let deployment: V1Deployment | undefined;
    for (const object of workload) {
      const applied = await cluster.apply(object);
      if (applied.kind === 'Deployment') deployment = applied as V1Deployment;
    }
    try {
      const deadline = this.applier.options.now() + release.spec.deployment_process_timeout_limit * 1000;
      await this.applier.awaitRollout(cluster, deployment!, release, canarySelector(modelId, variation), deadline, context);
    } catch (err) {
      const removed = await this.remove(cluster, features, modelId, variation).then(
        () => 'its objects were removed',
        (removeError: Error) => `removing its objects failed too: ${removeError.message}`,
      );
      const reason = err instanceof RolloutFailed ? err.message : `the rollout could not be followed: ${(err as Error).message}`;
      const message = `the canary of build ${buildId} of ${modelId} did not start in ${cluster.where} (build ${stable.buildId} keeps serving variation "${variation}"; ${removed}): ${reason}`;
      if (err instanceof RolloutFailed) throw new RefitError(ErrorTypes.DeploymentFailed, message, { cause: err });
      throw new Error(message, { cause: err });
    }
    context.onProgress?.(`canary ready; routing ${percent}% of variation "${variation}" to it`);
    for (const object of serving) await cluster.apply(object);
    const notes = [
      ...(this.applier.settings.gateway ? [] : [NO_GATEWAY_NOTE]),
      ...(release.spec.auto_scale_config
        ? [`the canary runs number_of_pods (${release.spec.number_of_pods}) pod(s); auto_scale_config applies once it is promoted`]
        : []),
    ];
    return { modelId, environment, variation, buildId, previousBuildId: stable.buildId, url: serviceUrl(modelId, namespace), changed: true, notes };
  }

  /** Changes only the canary's share of the variation's traffic. */
  async setWeight(cluster: Cluster, target: CanaryTarget, percent: number): Promise<void> {
    const canary = requireCanary(cluster, target, await this.liveCanary(cluster, target));
    const objects = await this.routedWith(cluster, await this.applier.options.features(cluster), canary, percent);
    await this.applier.preflight(cluster, objects);
    for (const object of objects) await cluster.apply(object);
  }

  /**
   * The canary's build becomes the variation's: applied to the variation's Deployment (rolled back if its rollout
   * does not finish), then the route sends the variation's traffic there and the canary's objects go. A repeat
   * once it has finished changes nothing.
   */
  async promote(cluster: Cluster, environment: string, target: CanaryTarget, context: DeployContext): Promise<DeploymentResult> {
    const { modelId, variation, buildId } = target;
    const [current, canary] = await Promise.all([cluster.readDeployment(objectNamesFor(modelId, variation).variation), this.liveCanary(cluster, target)]);
    if (canary?.buildId !== buildId && releaseOfDeployment(current)?.buildId === buildId) {
      const history = releaseHistory(await cluster.replicaSets(selectorString(variationSelector(modelId, variation))));
      const previousBuildId = history.find((entry) => entry.buildId !== buildId)?.buildId;
      return { modelId, environment, variation, buildId, previousBuildId, url: serviceUrl(modelId, cluster.namespace), changed: false, notes: [] };
    }
    const release = requireCanary(cluster, target, canary);
    let result: DeploymentResult;
    try {
      result = await this.applier.release(cluster, environment, release, context, { rollBack: true, dropCanary: true });
    } catch (err) {
      if (!(err instanceof RefitError)) throw err;
      // The variation's build was put back: the canary goes too, so that what serves is what status() reports.
      const removed = await this.remove(cluster, await this.applier.options.features(cluster), modelId, variation).then(
        () => 'the canary was removed as well',
        (removeError: Error) => `removing the canary failed too: ${removeError.message}`,
      );
      throw new RefitError(ErrorTypes.DeploymentFailed, `the canary of build ${buildId} was not promoted: ${err.message}; ${removed}`, { cause: err });
    }
    await this.remove(cluster, await this.applier.options.features(cluster), modelId, variation);
    return { ...result, changed: true };
  }

  /** The route sends the variation's traffic to its own Service again and the canary's objects go. A repeat changes nothing. */
  async abort(cluster: Cluster, target: CanaryTarget): Promise<void> {
    if ((await this.liveCanary(cluster, target))?.buildId !== target.buildId) return;
    await this.remove(cluster, await this.applier.options.features(cluster), target.modelId, target.variation);
  }

  /** The release the variation's canary runs now, if it has one. */
  private async liveCanary(cluster: Cluster, target: CanaryTarget): Promise<Release | undefined> {
    return canaryReleaseOf(await cluster.readDeployment(canaryObjectName(target.modelId, target.variation)), target.modelId);
  }

  /** The canary's Service with its share, the variations' Services and the route, as they must be for the canary to take `percent`. */
  private async routedWith(cluster: Cluster, features: ClusterFeatures, release: Release, percent: number): Promise<KubernetesObject[]> {
    const { modelId, buildId } = release;
    const variation = release.spec.variation_name;
    const variations = await servingVariations(cluster, modelId);
    const route = await routeStateOf(cluster, features, modelId, variations);
    const routed = { ...route, canaries: { ...route.canaries, [variation]: percent } };
    return [
      canaryServiceFor(modelId, variation, buildId, percent, cluster.namespace),
      ...routingObjects(modelId, cluster.namespace, variations, routed, this.applier.settings),
    ];
  }

  /** The route stops naming the canary; then its Service, ServiceAccount and, last, its Deployment are deleted. */
  private async remove(cluster: Cluster, features: ClusterFeatures, modelId: string, variation: string): Promise<void> {
    const variations = await servingVariations(cluster, modelId);
    const route = withoutCanary(await routeStateOf(cluster, features, modelId, variations), variation);
    if (route.exists && variations.length) await applyRouting(cluster, routingObjects(modelId, cluster.namespace, variations, route, this.applier.settings));
    for (const ref of canaryRefs(modelId, variation, cluster.namespace)) await deleteIfRefits(cluster, ref);
  }
}

function requireCanary(cluster: Cluster, target: CanaryTarget, canary: Release | undefined): Release {
  if (canary?.buildId === target.buildId) return canary;
  const now = canary ? `its canary runs build ${canary.buildId}` : 'it has no canary';
  throw new RefitError(
    ErrorTypes.DeploymentFailed,
    `build ${target.buildId} is not the canary of variation "${target.variation}" of ${target.modelId} in ${cluster.where} (${now})`,
  );
}
