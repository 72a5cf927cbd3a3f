// Stopping a model's variations: their objects go (their canaries' too), and what the remaining variations
// share (the model's Service, the HTTPRoute and per-variation Services) is reduced to what they still need.
// Only objects Refit made are deleted; one that GitOps tracks stops the removal with the same message as an
// apply would give.
import type { Cluster } from './cluster.js';
import { HPA, HTTP_ROUTE, refTo, SCALED_OBJECT, SERVICE, type ClusterFeatures, type ObjectRef, type TargetSettings } from './manifests.js';
import { applyRouting, routeStateOf, routingObjects, servingVariations } from './liveRouting.js';
import { canaryObjectName, LABELS, MANAGED_BY, objectName, objectNamesFor } from './names.js';
import { gitOpsOwner, managedElsewhere } from './ownership.js';

/** Deletes `ref` if Refit made it; false when it was absent or someone else's (left alone). */
export async function deleteIfRefits(cluster: Cluster, ref: ObjectRef): Promise<boolean> {
  const live = await cluster.read(ref);
  if (!live) return false;
  const gitOps = gitOpsOwner(live);
  if (gitOps) throw managedElsewhere(live, gitOps);
  if (live.metadata?.labels?.[LABELS.managedBy] !== MANAGED_BY) return false;
  return cluster.remove(ref);
}

/** A canary's objects, in the order they are deleted: its Service first (the route no longer names it), its Deployment last (it says a canary exists). */
export function canaryRefs(modelId: string, variation: string, namespace: string): ObjectRef[] {
  const name = canaryObjectName(modelId, variation);
  return [
    refTo(SERVICE, name, namespace),
    refTo({ apiVersion: 'v1', kind: 'ServiceAccount' }, name, namespace),
    refTo({ apiVersion: 'apps/v1', kind: 'Deployment' }, name, namespace),
  ];
}

/** Removes one variation of a model (its canary included), or (without `variation`) all of them. */
export async function removeVariations(
  cluster: Cluster,
  features: ClusterFeatures,
  modelId: string,
  variation: string | undefined,
  settings: TargetSettings,
): Promise<void> {
  const namespace = cluster.namespace;
  const serving = await servingVariations(cluster, modelId);
  const removing = variation ? [variation] : serving;
  const remaining = serving.filter((name) => !removing.includes(name));
  const route = await routeStateOf(cluster, features, modelId, remaining);
  // While a remaining variation runs a canary, the route keeps sending it its share.
  if (features.gatewayApi && (remaining.length >= 2 || (remaining.length === 1 && route.canaries[remaining[0]!] !== undefined))) {
    await applyRouting(cluster, routingObjects(modelId, namespace, remaining, route, settings));
  }
  for (const name of removing) {
    const object = objectNamesFor(modelId, name).variation;
    const refs = [
      ...canaryRefs(modelId, name, namespace),
      ...(features.keda ? [refTo(SCALED_OBJECT, object, namespace)] : []),
      refTo(HPA, object, namespace),
      refTo(SERVICE, object, namespace),
      refTo({ apiVersion: 'apps/v1', kind: 'Deployment' }, object, namespace),
      refTo({ apiVersion: 'v1', kind: 'ServiceAccount' }, object, namespace),
    ];
    for (const ref of refs) await deleteIfRefits(cluster, ref);
  }
  if (remaining.length >= 2 || (features.gatewayApi && remaining.length === 1 && route.canaries[remaining[0]!] !== undefined)) return;
  const model = objectName(modelId);
  if (features.gatewayApi) await deleteIfRefits(cluster, refTo(HTTP_ROUTE, model, namespace));
  if (remaining.length === 1) await deleteIfRefits(cluster, refTo(SERVICE, objectNamesFor(modelId, remaining[0]!).variation, namespace));
  else await deleteIfRefits(cluster, refTo(SERVICE, model, namespace));
}
