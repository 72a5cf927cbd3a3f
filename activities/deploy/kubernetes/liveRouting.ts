// How a model's traffic is routed now, read from the cluster: which variations serve, whether the model has an
// HTTPRoute, and which canaries take a share (their Services record it). Every change of the route is built
// from this, so a deploy of one variation keeps the canary of another where it was.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { HTTP_ROUTE, refTo, SERVICE, type ClusterFeatures, type RouteState, type TargetSettings } from './manifests.js';
import { canaryObjectName, LABELS, MANAGED_BY, objectName, servingSelector } from './names.js';
import { checkOwnership } from './ownership.js';
import { canaryWeightOf, httpRouteFor, variationServiceFor } from './routing.js';
import { releaseOfDeployment } from './servingRecord.js';

/** The variations of a model that have a Deployment (canaries aside). */
export async function servingVariations(cluster: Cluster, modelId: string): Promise<string[]> {
  const deployments = await cluster.deployments(servingSelector(modelId));
  return deployments.map((deployment) => releaseOfDeployment(deployment)?.spec.variation_name).filter((name): name is string => Boolean(name));
}

export async function routeStateOf(cluster: Cluster, features: ClusterFeatures, modelId: string, variations: string[]): Promise<RouteState> {
  if (!features.gatewayApi) return { exists: false, canaries: {} };
  const [route, ...services] = await Promise.all([
    cluster.read(refTo(HTTP_ROUTE, objectName(modelId), cluster.namespace)),
    ...variations.map((variation) => cluster.read(refTo(SERVICE, canaryObjectName(modelId, variation), cluster.namespace))),
  ]);
  const canaries: Record<string, number> = {};
  variations.forEach((variation, index) => {
    const percent = canaryWeightOf(services[index]);
    if (percent !== undefined) canaries[variation] = percent;
  });
  return { exists: route?.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY, canaries };
}

/** The variations' Services (the route's backends) and the route, in the order they must be applied. */
export function routingObjects(modelId: string, namespace: string, variations: string[], route: RouteState, settings: TargetSettings): KubernetesObject[] {
  return [
    ...variations.map((variation) => variationServiceFor(modelId, variation, namespace)),
    httpRouteFor(modelId, variations, namespace, { weights: settings.weights?.[modelId], gateway: settings.gateway, canaries: route.canaries }),
  ];
}

/** Applies routing objects once every one that exists has been checked to be Refit's, so that none is changed when one is not. */
export async function applyRouting(cluster: Cluster, objects: KubernetesObject[]): Promise<void> {
  for (const object of objects) {
    const live = await cluster.read(object);
    if (live) checkOwnership(live, object);
  }
  for (const object of objects) await cluster.apply(object);
}

export function withoutCanary(route: RouteState, variation: string): RouteState {
  const { [variation]: _removed, ...canaries } = route.canaries;
  return { ...route, canaries };
}
