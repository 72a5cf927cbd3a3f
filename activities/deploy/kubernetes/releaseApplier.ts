// Putting one release (a build of a variation) in place: its objects are checked and dry-run first, the
// workload applied, the rollout awaited, and only then Services, route and autoscaler; a rollout that does not
// finish puts the previous release back. apply, rollback and a canary's promotion all go through here.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import type { DeployContext, DeploymentResult } from '../deploymentTarget.js';
import type { Cluster } from './cluster.js';
import { routeStateOf, servingVariations, withoutCanary } from './liveRouting.js';
import { buildManifests, type ClusterFeatures, type ManifestPlan, type TargetSettings } from './manifests.js';
import { LABELS, MANAGED_BY, labelValue, objectName, objectNamesFor, selectorString, variationSelector } from './names.js';
import { checkOwnership } from './ownership.js';
import { removeVariations } from './removal.js';
import { describePods, RolloutFailed, waitForRollout } from './rollout.js';
import { secretKeysFor } from './secretReferences.js';
import { releaseHistory, releaseOfDeployment, type Release } from './servingRecord.js';

export interface ApplierOptions {
  settings: TargetSettings;
  pollMs: number;
  /** How long a rollback inside a failed apply waits for the previous build to be ready again. */
  rollbackWaitMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  features: (cluster: Cluster) => Promise<ClusterFeatures>;
}

/** What applying a release would do, worked out before anything changes. */
export interface PreparedRelease {
  features: ClusterFeatures;
  /** The variation's Deployment as it is now. */
  current?: V1Deployment;
  plan: ManifestPlan;
}

export class ReleaseApplier {
  constructor(readonly options: ApplierOptions) {}

  get settings(): TargetSettings {
    return this.options.settings;
  }

  /** The objects a release needs, given the cluster's features, the model's other variations and its route. `dropCanary`: route none to the variation's canary. */
  async prepare(cluster: Cluster, release: Release, dropCanary = false): Promise<PreparedRelease> {
    const variation = release.spec.variation_name;
    const [features, current, variations, secretKeys] = await Promise.all([
      this.options.features(cluster),
      cluster.readDeployment(objectNamesFor(release.modelId, variation).variation),
      servingVariations(cluster, release.modelId),
      secretKeysFor(cluster.core, cluster.namespace, release),
    ]);
    const live = await routeStateOf(cluster, features, release.modelId, [...new Set([...variations, variation])]);
    const route = dropCanary ? withoutCanary(live, variation) : live;
    const plan = buildManifests({ release, namespace: cluster.namespace, variations, secretKeys, features, settings: this.settings, route });
    return { features, current, plan };
  }

  /** Applies a release's objects, waits for its rollout, and on failure puts the previous release back (when `rollBack`). */
  async release(
    cluster: Cluster,
    environment: string,
    release: Release,
    context: DeployContext,
    options: { rollBack: boolean; dropCanary?: boolean },
  ): Promise<DeploymentResult> {
    const { modelId, buildId } = release;
    const variation = release.spec.variation_name;
    const { features, current, plan } = await this.prepare(cluster, release, options.dropCanary);
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
      await this.awaitRollout(
        cluster,
        deployment!,
        release,
        variationSelector(modelId, variation),
        this.options.now() + release.spec.deployment_process_timeout_limit * 1000,
        context,
      );
    } catch (err) {
      const reason = err instanceof RolloutFailed ? err.message : `the rollout could not be followed: ${(err as Error).message}`;
      if (!options.rollBack)
        throw new RefitError(ErrorTypes.DeploymentFailed, `build ${buildId} of ${modelId} was applied again in ${cluster.where}, but ${reason}`, {
          cause: err,
        });
      const outcome = await this.restore(cluster, previous, current, release, features).catch(
        (restoreError: Error) => `rolling back failed too: ${restoreError.message}`,
      );
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
  async preflight(cluster: Cluster, objects: KubernetesObject[]): Promise<Map<string, string | undefined>> {
    const versions = new Map<string, string | undefined>();
    for (const object of objects) {
      const live = await cluster.read(object);
      if (live) checkOwnership(live, object);
      versions.set(keyOf(object), live ? versionOf(live) : undefined);
    }
    await Promise.all(objects.map((object) => cluster.apply(object, { dryRun: true })));
    return versions;
  }

  /** Waits for the rollout of `deployment`, whose pods of this release `podSelector` (plus the build) selects. */
  async awaitRollout(
    cluster: Cluster,
    deployment: V1Deployment,
    release: Release,
    podSelector: Record<string, string>,
    deadline: number,
    context: DeployContext,
  ): Promise<void> {
    const name = deployment.metadata!.name!;
    const pods = selectorString({ ...podSelector, [LABELS.build]: labelValue(release.buildId) });
    await waitForRollout({
      read: () => cluster.apps.readNamespacedDeployment({ name, namespace: cluster.namespace }),
      explain: async () => `pods of build ${release.buildId}: ${describePods(await cluster.pods(pods))}`,
      generation: deployment.metadata?.generation ?? 1,
      deadline,
      pollMs: this.options.pollMs,
      now: this.options.now,
      sleep: this.options.sleep,
      signal: context.signal,
      onProgress: context.onProgress,
    });
  }

  /** Puts the release that served before back (or removes what a first deploy created); says what it did. */
  private async restore(
    cluster: Cluster,
    previous: Release | undefined,
    current: V1Deployment | undefined,
    failed: Release,
    features: ClusterFeatures,
  ): Promise<string> {
    const variation = failed.spec.variation_name;
    if (!current) {
      await removeVariations(cluster, features, failed.modelId, variation, this.settings);
      return `nothing served variation "${variation}" before, so its objects were removed`;
    }
    if (!previous) return `the Deployment ${current.metadata?.name} had no Refit record of its previous build, so it was left as the rollout left it`;
    const secretKeys = await secretKeysFor(cluster.core, cluster.namespace, previous);
    const plan = buildManifests({ release: previous, namespace: cluster.namespace, variations: [], secretKeys, features, settings: this.settings });
    let deployment: V1Deployment | undefined;
    for (const object of plan.workload) {
      const applied = await cluster.apply(object);
      if (applied.kind === 'Deployment') deployment = applied as V1Deployment;
    }
    try {
      await this.awaitRollout(
        cluster,
        deployment!,
        previous,
        variationSelector(previous.modelId, variation),
        this.options.now() + this.options.rollbackWaitMs,
        {},
      );
      return `build ${previous.buildId} serves variation "${variation}" again`;
    } catch (err) {
      return `build ${previous.buildId} was put back for variation "${variation}" but is not ready yet: ${(err as Error).message}`;
    }
  }
}

export function keyOf(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.name}`;
}

/** The generation where an object has one (status updates by controllers do not change it), else the resourceVersion. */
export function versionOf(object: KubernetesObject): string | undefined {
  const { generation, resourceVersion } = object.metadata ?? {};
  return generation ? `generation ${generation}` : resourceVersion;
}

export function serviceUrl(modelId: string, namespace: string): string {
  return `http://${objectName(modelId)}.${namespace}.svc.cluster.local`;
}
