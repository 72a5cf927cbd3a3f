import { describe, expect, it } from '@jest/globals';
import { choosePods, chooseVariation } from '../../activities/deploy/local/routing.js';
import type { ModelServingState, VariationState } from '../../activities/deploy/local/servingState.js';

const variation = (pods: number): VariationState =>
  ({
    buildId: 'b',
    artifactDir: '',
    python: '',
    metrics: {},
    deployedAt: '',
    history: [],
    pods: Array.from({ length: pods }, (_, i) => ({ pid: i, port: 1000 + i })),
  }) as unknown as VariationState;

const state = (variations: Record<string, number>, weights?: Record<string, number>): ModelServingState => ({
  modelId: 'm',
  environment: '',
  variations: Object.fromEntries(Object.entries(variations).map(([name, pods]) => [name, variation(pods)])),
  weights,
});

describe('choosing a variation for a request', () => {
  it('gives equal shares without weights', () => {
    const both = state({ A: 1, B: 1 });
    expect(chooseVariation(both, undefined, 0.1)).toBe('A');
    expect(chooseVariation(both, undefined, 0.6)).toBe('B');
  });

  it('follows weights, and a variation without weight gets nothing', () => {
    const canary = state({ A: 2, B: 1 }, { A: 90, B: 10 });
    expect(chooseVariation(canary, undefined, 0.89)).toBe('A');
    expect(chooseVariation(canary, undefined, 0.91)).toBe('B');
    expect(chooseVariation(state({ A: 1, B: 1 }, { A: 100 }), undefined, 0.99)).toBe('A');
  });

  it('honours a requested variation, and refuses one that is not serving', () => {
    expect(chooseVariation(state({ A: 1, B: 1 }), 'B', 0)).toBe('B');
    expect(chooseVariation(state({ A: 1, B: 0 }), 'B', 0)).toBeUndefined();
    expect(chooseVariation(state({ A: 1 }), 'C', 0)).toBeUndefined();
  });

  it('finds nothing when no variation has pods', () => {
    expect(chooseVariation(state({ A: 0 }), undefined, 0.5)).toBeUndefined();
  });
});

describe('choosing between a variation and its canary', () => {
  it('gives the canary its percent of requests, and none without pods', () => {
    const stable = variation(2);
    const withCanary = { ...stable, canary: { ...variation(1), buildId: 'new', weight: 10 } } as unknown as VariationState;
    expect(choosePods(withCanary, 0.05).buildId).toBe('new');
    expect(choosePods(withCanary, 0.15).buildId).toBe('b');
    expect(choosePods({ ...withCanary, canary: { ...withCanary.canary!, pods: [] } }, 0.05).buildId).toBe('b');
    expect(choosePods(stable, 0.01).buildId).toBe('b');
  });
});
