// Summaries of repeated measurements. The machine is shared and noisy, so figures are medians with their
// spread, never a single run.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation between order statistics). */
  p25: number;
  p75: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = sorted[below]!;
  return low + (sorted[above]! - low) * (position - below);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
  };
}

/** Element-wise a[i] / b[i]: repetitions are paired (measured back to back), so their ratios are too. */
export function pairedRatios(numerators: readonly number[], denominators: readonly number[]): number[] {
  return numerators.map((value, index) => value / denominators[index]!);
}

export function pairedDifferences(minuends: readonly number[], subtrahends: readonly number[]): number[] {
  return minuends.map((value, index) => value - subtrahends[index]!);
}

/** Milliseconds since an arbitrary origin, with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}
