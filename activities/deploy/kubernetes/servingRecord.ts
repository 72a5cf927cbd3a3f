// What a build's pod template records about it: the build, its metrics and the DeploymentSpecifications it
// was deployed with. Because the record lives in the pod template, every ReplicaSet the Deployment keeps
// carries the record of its build: that history is what rollbacks and champion/challenger read.
import type { V1Deployment, V1ObjectMeta, V1ReplicaSet } from '@kubernetes/client-node';
import { z } from 'zod';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { DeploymentSpecifications } from '../../../spec/schema/deployment.js';
import type { ServingVariation } from '../deploymentTarget.js';
import type { DeploymentSpec } from '../../../shared/deployment.js';
import { ANNOTATIONS, LABELS } from './names.js';

/** One build of one variation of a model, as deployed. */
export interface Release {
  automation: string;
  modelId: string;
  buildId: string;
  spec: DeploymentSpec;
  metrics: Record<string, number>;
  /** The build's image by digest, when the build pushed one (older records have none). */
  image?: string;
}

/** JSON with keys sorted, so that the same record always gives the same annotation (and applying it again changes nothing). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/** The format of the record in a pod template's annotations; templates written before it had one are version 1. */
export const RECORD_VERSION = '1';
const RecordedMetrics = z.record(z.string(), z.number());

export function recordAnnotations(release: Release): Record<string, string> {
  return {
    [ANNOTATIONS.recordVersion]: RECORD_VERSION,
    [ANNOTATIONS.automation]: release.automation,
    [ANNOTATIONS.buildId]: release.buildId,
    [ANNOTATIONS.metrics]: canonicalJson(release.metrics),
    [ANNOTATIONS.spec]: canonicalJson(release.spec),
    // Only when there is one: a record without an image stays as it was, so re-applying it changes nothing.
    ...(release.image ? { [ANNOTATIONS.image]: release.image } : {}),
  };
}

/**
 * The release recorded in a pod template's metadata, or undefined when it holds none (not deployed by Refit).
 * A canary's pods do not carry the model label (the model's Services must not select them): the caller names the model.
 */
export function releaseOf(templateMetadata: V1ObjectMeta | undefined, knownModelId?: string): Release | undefined {
  const annotations = templateMetadata?.annotations ?? {};
  const buildId = annotations[ANNOTATIONS.buildId];
  const spec = annotations[ANNOTATIONS.spec];
  const modelId = templateMetadata?.labels?.[LABELS.model] ?? knownModelId;
  if (!buildId || !spec || !modelId) return undefined;
  const refuse = (why: string) =>
    new RefitError(
      ErrorTypes.DeploymentFailed,
      `the pod template of build ${buildId} of ${modelId} holds a Refit record that ${why}: redeploy the model with this Refit, or use the Refit that deployed it`,
    );
  const version = annotations[ANNOTATIONS.recordVersion] ?? RECORD_VERSION;
  if (version !== RECORD_VERSION) throw refuse(`has format version ${version}, and this Refit reads version ${RECORD_VERSION}`);
  let parsedSpec: ReturnType<typeof DeploymentSpecifications.safeParse>;
  let parsedMetrics: ReturnType<typeof RecordedMetrics.safeParse>;
  try {
    parsedSpec = DeploymentSpecifications.safeParse(JSON.parse(spec));
    parsedMetrics = RecordedMetrics.safeParse(JSON.parse(annotations[ANNOTATIONS.metrics] ?? '{}'));
  } catch {
    throw refuse('is not JSON');
  }
  if (!parsedSpec.success) throw refuse(`is not a deployment spec (${parsedSpec.error.issues[0]?.path.join('.')}: ${parsedSpec.error.issues[0]?.message})`);
  if (!parsedMetrics.success) throw refuse('has metrics that are not numbers');
  return {
    automation: annotations[ANNOTATIONS.automation] ?? '',
    // Model ids are always valid label values, so the label holds the id itself.
    modelId,
    buildId,
    spec: parsedSpec.data,
    metrics: parsedMetrics.data,
    ...(annotations[ANNOTATIONS.image] ? { image: annotations[ANNOTATIONS.image] } : {}),
  };
}

export function releaseOfDeployment(deployment: V1Deployment | undefined): Release | undefined {
  return releaseOf(deployment?.spec?.template?.metadata);
}

/** Builds a variation served before, newest first, from the ReplicaSets its Deployment keeps. */
export function releaseHistory(replicaSets: V1ReplicaSet[]): Release[] {
  const revision = (set: V1ReplicaSet) => Number(set.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  const seen = new Set<string>();
  const releases: Release[] = [];
  for (const set of [...replicaSets].sort((a, b) => revision(b) - revision(a))) {
    const release = releaseOf(set.spec?.template?.metadata);
    if (release && !seen.has(release.buildId)) {
      seen.add(release.buildId);
      releases.push(release);
    }
  }
  return releases;
}

/** The container port every model server listens on. */
export const SERVING_PORT = 8080;

/**
 * A variation as `status()` reports it, with the builds its kept ReplicaSets (those of this Deployment) ran. Kubernetes pods have no pid on this machine: each pod is listed
 * named by its number, with the serving port, alive when it is available.
 */
export function servingVariationOf(deployment: V1Deployment, replicaSets: V1ReplicaSet[]): ServingVariation | undefined {
  const release = releaseOfDeployment(deployment);
  if (!release) return undefined;
  const status = deployment.status ?? {};
  const finished = status.conditions?.find((condition) => condition.type === 'Progressing' && condition.reason === 'NewReplicaSetAvailable');
  const deployedAt = finished?.lastUpdateTime ?? deployment.metadata?.creationTimestamp;
  const available = status.availableReplicas ?? 0;
  return {
    buildId: release.buildId,
    metrics: release.metrics,
    deployedAt: deployedAt ? new Date(deployedAt).toISOString() : '',
    pods: Array.from({ length: status.replicas ?? 0 }, (_, index) => ({ name: `replica ${index + 1}`, port: SERVING_PORT, alive: index < available })),
    previousBuildIds: releaseHistory(replicaSets)
      .map((entry) => entry.buildId)
      .filter((buildId) => buildId !== release.buildId),
  };
}
