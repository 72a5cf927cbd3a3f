// How requests reach a model: one Service for the model (its pods, all variations), and for an A/B test
// one Service per variation behind a Gateway API HTTPRoute that splits traffic by weight. As with the local
// router, a client may ask for one variation by the x-refit-variation header.
import type { KubernetesObject, V1Service } from '@kubernetes/client-node';
import { VARIATION_HEADER } from '../local/routing.js';
import { ANNOTATIONS, canaryObjectName, LABELS, labelValue, modelLabels, objectName, objectNamesFor, variationLabels, variationSelector } from './names.js';

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

export interface RouteOptions {
  weights?: Record<string, number>;
  gateway?: GatewayRef;
  /** Variation -> percent of its traffic its canary takes (0-100). */
  canaries?: Record<string, number>;
}

/**
 * Every variation's Service, weighted; a variation with a canary splits its share between its Service and the
 * canary's. Only then are the weights scaled by 100 (integers, as the Gateway API wants them), so a route
 * without canaries keeps the weights it always had.
 */
export function httpRouteFor(modelId: string, variations: string[], namespace: string, options: RouteOptions): HttpRoute {
  const sorted = [...variations].sort();
  const weights = weightsFor(sorted, options.weights);
  const canaries = Object.fromEntries(Object.entries(options.canaries ?? {}).filter(([variation]) => sorted.includes(variation)));
  const scale = Object.keys(canaries).length ? 100 : 1;
  const backends = (variation: string, share: number) => {
    const stable = { name: objectNamesFor(modelId, variation).variation, port: SERVICE_PORT };
    const percent = canaries[variation];
    if (percent === undefined) return [{ ...stable, weight: share * scale }];
    return [
      { ...stable, weight: share * (100 - percent) },
      { name: canaryObjectName(modelId, variation), port: SERVICE_PORT, weight: share * percent },
    ];
  };
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: objectName(modelId), namespace, labels: modelLabels(modelId) },
    spec: {
      parentRefs: options.gateway ? [options.gateway] : undefined,
      rules: [
        ...sorted.map((variation) => ({
          matches: [{ headers: [{ type: 'Exact', name: VARIATION_HEADER, value: variation }] }],
          backendRefs:
            canaries[variation] === undefined ? [{ name: objectNamesFor(modelId, variation).variation, port: SERVICE_PORT }] : backends(variation, 1),
        })),
        { backendRefs: sorted.flatMap((variation) => backends(variation, weights[variation]!)) },
      ],
    },
  };
}

/**
 * The Service of a variation's canary: only the canary's pods (of its build), and the canary's share of the
 * variation's traffic as an annotation. It exists while the canary takes traffic: the route is built from it.
 */
export function canaryServiceFor(modelId: string, variation: string, buildId: string, percent: number, namespace: string): V1Service {
  const canaryOf = objectNamesFor(modelId, variation).variation;
  const labels = { ...variationLabels(modelId, variation), [LABELS.canaryOf]: canaryOf, [LABELS.build]: labelValue(buildId) };
  const object = service(canaryObjectName(modelId, variation), namespace, labels, { [LABELS.canaryOf]: canaryOf, [LABELS.build]: labelValue(buildId) });
  return { ...object, metadata: { ...object.metadata, annotations: { [ANNOTATIONS.canaryWeight]: String(percent), [ANNOTATIONS.buildId]: buildId } } };
}

/** The percent a live canary Service records, if it is one. */
export function canaryWeightOf(object: KubernetesObject | undefined): number | undefined {
  const text = object?.metadata?.labels?.[LABELS.canaryOf] ? object.metadata.annotations?.[ANNOTATIONS.canaryWeight] : undefined;
  const percent = Number(text);
  return text !== undefined && Number.isInteger(percent) && percent >= 0 && percent <= 100 ? percent : undefined;
}

/** REFIT_GATEWAY: "name" or "namespace/name" of the Gateway that HTTPRoutes attach to. */
export function parseGateway(text: string | undefined): GatewayRef | undefined {
  if (!text?.trim()) return undefined;
  const [first, second] = text.trim().split('/');
  return second ? { namespace: first!, name: second } : { name: first! };
}
