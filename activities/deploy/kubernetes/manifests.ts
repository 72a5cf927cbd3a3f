// Every object one deploy applies, in order, as a pure function: the target applies this plan, and
// `refit describe --manifests` prints it.
import type { KubernetesObject } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { objectName, objectNamesFor } from './names.js';
import { httpRouteFor, modelServiceFor, variationServiceFor, type GatewayRef } from './routing.js';
import { chooseScaler, horizontalPodAutoscalerFor, scaledObjectFor } from './scaling.js';
import type { Release } from './servingRecord.js';
import { deploymentFor, imageOf, serviceAccountFor } from './workload.js';

/** Optional APIs of the cluster that change what is applied. */
export interface ClusterFeatures {
  /** KEDA's ScaledObject (keda.sh/v1alpha1). */
  keda: boolean;
  /** Gateway API's HTTPRoute (gateway.networking.k8s.io/v1). */
  gatewayApi: boolean;
}

export interface TargetSettings {
  /** Images are `${imageRepository}/${modelId}:${buildId}`; the build system pushes them there. */
  imageRepository: string;
  /** The Prometheus server KEDA queries. */
  prometheusUrl: string;
  gateway?: GatewayRef;
  /** Traffic shares per model id and variation; equal shares for a model without an entry. */
  weights?: Record<string, Record<string, number>>;
  /** A `kubernetes.io/dockerconfigjson` Secret in each namespace that model pods pull their image with. */
  imagePullSecret?: string;
}

export interface ManifestInput {
  release: Release;
  namespace: string;
  /** Every variation of the model that serves in the namespace once this one does, this one included. */
  variations: string[];
  /** Refit secret name -> key of its value in the Kubernetes Secret (default "value"). */
  secretKeys: Record<string, string>;
  features: ClusterFeatures;
  settings: TargetSettings;
  /** What the model's live HTTPRoute carries beyond its variations; see RouteState. */
  route?: RouteState;
}

/**
 * The model's HTTPRoute as it is now: whether it exists, and the canaries it routes to. A route that exists
 * stays even for one variation (a canary made it, and clients may reach the model through the Gateway).
 */
export interface RouteState {
  exists: boolean;
  /** Variation -> the percent of its traffic its canary takes. */
  canaries: Record<string, number>;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
}

export interface ManifestPlan {
  /** ServiceAccount and Deployment: applied first, then the rollout is awaited. */
  workload: KubernetesObject[];
  /** Services, HTTPRoute and autoscaler: applied once the new build serves. */
  serving: KubernetesObject[];
  /** Objects an earlier configuration had and this one has not: deleted if Refit made them. */
  obsolete: ObjectRef[];
  /** Parts of the specification applied differently than asked, and why. */
  notes: string[];
}

export const NO_GATEWAY_NOTE = 'the HTTPRoute has no parent Gateway, so no Gateway routes it yet: set REFIT_GATEWAY to [namespace/]name of your Gateway';

export const SCALED_OBJECT = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' } as const;
export const HPA = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' } as const;
export const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;
export const SERVICE = { apiVersion: 'v1', kind: 'Service' } as const;

export function refTo(type: { apiVersion: string; kind: string }, name: string, namespace: string): ObjectRef {
  return { apiVersion: type.apiVersion, kind: type.kind, metadata: { name, namespace } };
}

/** Fails (before anything is applied) when the cluster cannot serve the specification. */
export function buildManifests(input: ManifestInput): ManifestPlan {
  const { release, namespace, features, settings } = input;
  const { modelId } = release;
  const variation = release.spec.variation_name;
  const names = objectNamesFor(modelId, variation);
  const config = release.spec.auto_scale_config;
  const notes: string[] = [];
  const obsolete: ObjectRef[] = [];

  const scaler = config ? chooseScaler(config, features.keda) : undefined;
  if (scaler?.kind === 'unavailable') throw new RefitError(ErrorTypes.DeploymentFailed, scaler.reason);
  const workload = [
    serviceAccountFor(release, { namespace }),
    deploymentFor(release, {
      namespace,
      image: release.image ?? imageOf(settings.imageRepository, modelId, release.buildId),
      secretKeys: input.secretKeys,
      autoscaled: Boolean(config),
      imagePullSecret: settings.imagePullSecret,
    }),
  ];

  const serving: KubernetesObject[] = [modelServiceFor(modelId, namespace)];
  const variations = [...new Set([...input.variations, variation])].sort();
  const route = input.route ?? { exists: false, canaries: {} };
  const routed = features.gatewayApi && (route.exists || Object.keys(route.canaries).length > 0);
  if (variations.length > 1 || routed) {
    serving.push(...variations.map((name) => variationServiceFor(modelId, name, namespace)));
    if (features.gatewayApi) {
      serving.push(httpRouteFor(modelId, variations, namespace, { weights: settings.weights?.[modelId], gateway: settings.gateway, canaries: route.canaries }));
      if (!settings.gateway) notes.push(NO_GATEWAY_NOTE);
    } else {
      notes.push(
        `the cluster has no Gateway API HTTPRoute: variations ${variations.join(', ')} share the Service ${objectName(modelId)} in proportion to their pods`,
      );
    }
  } else {
    obsolete.push(refTo(SERVICE, names.variation, namespace));
    if (features.gatewayApi) obsolete.push(refTo(HTTP_ROUTE, names.model, namespace));
  }

  if (config && scaler?.kind === 'keda') {
    serving.push(scaledObjectFor(modelId, variation, namespace, config, settings.prometheusUrl));
    obsolete.push(refTo(HPA, names.variation, namespace));
    notes.push(...scaler.notes);
  } else if (config && scaler?.kind === 'hpa') {
    serving.push(horizontalPodAutoscalerFor(modelId, variation, namespace, config));
    notes.push(...scaler.notes);
  } else {
    obsolete.push(refTo(HPA, names.variation, namespace));
    if (features.keda) obsolete.push(refTo(SCALED_OBJECT, names.variation, namespace));
  }
  return { workload, serving, obsolete, notes };
}
