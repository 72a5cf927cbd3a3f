import type { ModelServingState, Pod, VariationState } from './servingState.js';

export const VARIATION_HEADER = 'x-refit-variation';
/** Where the router answers the digest of the state it routes by (not a path of the inference protocol). */
export const ROUTES_PATH = '/-/routes';

/**
 * Picks the variation for a request: the one a client asks for by header, else by weight (equal shares
 * unless weights are set). `draw` is a number in [0, 1) so that tests can choose it.
 */
export function chooseVariation(state: ModelServingState, requested: string | undefined, draw: number): string | undefined {
  const serving = Object.keys(state.variations)
    .filter((name) => state.variations[name]!.pods.length > 0)
    .sort();
  if (requested !== undefined) return serving.includes(requested) ? requested : undefined;
  const weighted = serving.map((name) => ({ name, weight: state.weights?.[name] ?? (state.weights ? 0 : 1) })).filter((entry) => entry.weight > 0);
  const total = weighted.reduce((sum, entry) => sum + entry.weight, 0);
  let point = draw * total;
  for (const entry of weighted) {
    if (point < entry.weight) return entry.name;
    point -= entry.weight;
  }
  return weighted.at(-1)?.name;
}

/** Within a variation: the canary's pods for its share of requests (`draw` in [0, 1)), else the stable ones. */
export function choosePods(variation: VariationState, draw: number): { pods: Pod[]; buildId: string } {
  const canary = variation.canary;
  if (canary && canary.pods.length > 0 && draw * 100 < canary.weight) return { pods: canary.pods, buildId: canary.buildId };
  return { pods: variation.pods, buildId: variation.buildId };
}
