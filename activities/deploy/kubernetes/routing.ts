// How requests reach a model: one Service for the model (its pods, all variations), and for an A/B test
// one Service per variation behind a Gateway API HTTPRoute that splits traffic by weight. As with the local
// router, a client may ask for one variation by the x-refit-variation header.
import type { KubernetesObject, V1Service } from '@kubernetes/client-node';
import { VARIATION_HEADER } from '../local/routing.js';
import { modelLabels, objectName, objectNamesFor, variationLabels, variationSelector, LABELS, labelValue } from './names.js';

export const SERVICE_PORT = 80;

/** The Gateway an HTTPRoute attaches to (Gateway API `parentRefs`). */
export interface GatewayRef {
  name: string;
  namespace?: string;
  sectionName?: string;
}

export interface HttpRoute extends KubernetesObject {
  spec: {
    parentRefs?: GatewayRef[];
    rules: {
      matches?: { headers?: { type?: string; name: string; value: string }[]; path?: { type?: string; value?: string } }[];
      backendRefs: { name: string; port: number; weight?: number }[];
    }[];
  };
}

function service(name: string, namespace: string, labels: Record<string, string>, selector: Record<string, string>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }] },
  };
}

/** The model's Service: every pod of every variation. */
export function modelServiceFor(modelId: string, namespace: string): V1Service {
  return service(objectName(modelId), namespace, modelLabels(modelId), { [LABELS.model]: labelValue(modelId) });
}

/** A Service for one variation's pods: what an HTTPRoute's backends are. */
export function variationServiceFor(modelId: string, variation: string, namespace: string): V1Service {
  return service(objectNamesFor(modelId, variation).variation, namespace, variationLabels(modelId, variation), variationSelector(modelId, variation));
}

/** Equal shares, unless weights are given for the model; then a variation they leave out gets none. */
export function weightsFor(variations: string[], weights?: Record<string, number>): Record<string, number> {
  return Object.fromEntries(variations.map((variation) => [variation, weights ? (weights[variation] ?? 0) : 1]));
}

export function httpRouteFor(modelId: string, variations: string[], namespace: string, options: { weights?: Record<string, number>; gateway?: GatewayRef }): HttpRoute {
  const sorted = [...variations].sort();
  const weights = weightsFor(sorted, options.weights);
  const backend = (variation: string) => ({ name: objectNamesFor(modelId, variation).variation, port: SERVICE_PORT });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: objectName(modelId), namespace, labels: modelLabels(modelId) },
    spec: {
      parentRefs: options.gateway ? [options.gateway] : undefined,
      rules: [
        ...sorted.map((variation) => ({
          matches: [{ headers: [{ type: 'Exact', name: VARIATION_HEADER, value: variation }] }],
          backendRefs: [backend(variation)],
        })),
        { backendRefs: sorted.map((variation) => ({ ...backend(variation), weight: weights[variation] })) },
      ],
    },
  };
}

/** REFIT_GATEWAY: "name" or "namespace/name" of the Gateway that HTTPRoutes attach to. */
export function parseGateway(text: string | undefined): GatewayRef | undefined {
  if (!text?.trim()) return undefined;
  const [first, second] = text.trim().split('/');
  return second ? { namespace: first!, name: second } : { name: first! };
}
