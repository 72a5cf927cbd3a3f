// Stopping a model's variations: their objects go, and what the remaining variations share (the model's
// Service, the HTTPRoute and per-variation Services) is reduced to what they still need. Only objects Refit
// made are deleted; one that GitOps tracks stops the removal with the same message as an apply would give.
import type { Cluster } from './cluster.js';
import { HPA, HTTP_ROUTE, refTo, SCALED_OBJECT, SERVICE, type ClusterFeatures, type ObjectRef, type TargetSettings } from './manifests.js';
import { LABELS, MANAGED_BY, labelValue, objectName, objectNamesFor, selectorString } from './names.js';
import { checkOwnership, gitOpsOwner, managedElsewhere } from './ownership.js';
import { httpRouteFor } from './routing.js';
import { releaseOfDeployment } from './servingRecord.js';

/** Deletes `ref` if Refit made it; false when it was absent or someone else's (left alone). */
async function deleteIfRefits(cluster: Cluster, ref: ObjectRef): Promise<boolean> {
  const live = await cluster.read(ref);
  if (!live) return false;
  const gitOps = gitOpsOwner(live);
  if (gitOps) throw managedElsewhere(live, gitOps);
  if (live.metadata?.labels?.[LABELS.managedBy] !== MANAGED_BY) return false;
  return cluster.remove(ref);
}

/** Removes one variation of a model, or (without `variation`) all of them. */
export async function removeVariations(cluster: Cluster, features: ClusterFeatures, modelId: string, variation: string | undefined, settings: TargetSettings): Promise<void> {
  const namespace = cluster.namespace;
  const deployments = await cluster.deployments(selectorString({ [LABELS.model]: labelValue(modelId), [LABELS.managedBy]: MANAGED_BY }));
  const serving = deployments.map((deployment) => releaseOfDeployment(deployment)?.spec.variation_name).filter((name): name is string => Boolean(name));
  const removing = variation ? [variation] : serving;
  for (const name of removing) {
    const object = objectNamesFor(modelId, name).variation;
    const refs = [
      ...(features.keda ? [refTo(SCALED_OBJECT, object, namespace)] : []),
      refTo(HPA, object, namespace),
      refTo(SERVICE, object, namespace),
      refTo({ apiVersion: 'apps/v1', kind: 'Deployment' }, object, namespace),
      refTo({ apiVersion: 'v1', kind: 'ServiceAccount' }, object, namespace),
    ];
    for (const ref of refs) await deleteIfRefits(cluster, ref);
  }
  const remaining = serving.filter((name) => !removing.includes(name));
  const model = objectName(modelId);
  if (remaining.length >= 2) {
    if (!features.gatewayApi) return;
    const route = httpRouteFor(modelId, remaining, namespace, { weights: settings.weights?.[modelId], gateway: settings.gateway });
    const live = await cluster.read(route);
    if (live) checkOwnership(live, route);
    await cluster.apply(route);
    return;
  }
  if (features.gatewayApi) await deleteIfRefits(cluster, refTo(HTTP_ROUTE, model, namespace));
  if (remaining.length === 1) await deleteIfRefits(cluster, refTo(SERVICE, objectNamesFor(modelId, remaining[0]!).variation, namespace));
  else await deleteIfRefits(cluster, refTo(SERVICE, model, namespace));
}
