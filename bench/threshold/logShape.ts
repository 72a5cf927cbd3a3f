// The shape of the generated inference logs and of the threshold over them, shared by the generator and
// the plain script (which must stay free of DuckDB, or loading it would be counted against the baseline).

/** The logs span 30 days from LOG_START; the threshold looks at the last 7 of them, for one model of four. */
export const LOG_START = '2026-01-01 00:00:00';
export const SPAN_SECONDS = 30 * 86_400;
export const WINDOW_START = '2026-01-24 00:00:00';
export const MODEL_ID = 'model-1';

/** The typical threshold queries, as an automation would write them (the same text for every engine). */
export const THRESHOLD_QUERIES = {
  avg: `SELECT avg(score) FROM inference_log WHERE model_id = '${MODEL_ID}' AND ts >= TIMESTAMP '${WINDOW_START}'`,
  p95: `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM inference_log WHERE model_id = '${MODEL_ID}' AND ts >= TIMESTAMP '${WINDOW_START}'`,
} as const;
export type ThresholdQuery = keyof typeof THRESHOLD_QUERIES;
