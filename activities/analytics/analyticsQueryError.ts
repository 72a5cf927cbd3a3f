/**
 * Why a query against the model-analytics store gave no usable number. The first five are about the
 * query's result and need the SQL changed; `timeout`, `not_read_only` and `failed` are about running it;
 * `unavailable` is about reaching the store (it may pass on its own).
 * - `several_columns`: the column count is not one (several, or none at all).
 * - `not_a_number`: the column is not numeric, or its value is no finite number a double holds exactly.
 */
export type AnalyticsQueryErrorKind =
  'no_rows' | 'several_rows' | 'several_columns' | 'not_a_number' | 'null' | 'timeout' | 'not_read_only' | 'failed' | 'unavailable';

/** A query that gave no usable number; the message names the store and says what to fix, never a secret. */
export class AnalyticsQueryError extends Error {
  override readonly name = 'AnalyticsQueryError';

  constructor(
    readonly kind: AnalyticsQueryErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How long a query may run when the caller does not say. */
export const DEFAULT_QUERY_TIMEOUT_MS = 60_000;

/** The caller's time limit, checked: a zero or negative limit is a bug in the caller, not in the SQL. */
export function queryTimeoutMs(options: { timeoutMs?: number } | undefined): number {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`timeoutMs must be a positive number of milliseconds, not ${timeoutMs}`);
  }
  return Math.ceil(timeoutMs);
}

/** The error for a query stopped at its time limit; both stores word it the same way. */
export function timedOut(store: string, timeoutMs: number, cause?: unknown): AnalyticsQueryError {
  return new AnalyticsQueryError(
    'timeout',
    `the threshold query ran longer than its limit of ${timeoutMs} ms on ${store} and was stopped; ` +
      'make it cheaper (filter on a recent time range, read pre-aggregated data) or give it a longer limit',
    { cause },
  );
}

/** The error for a query that would change the store. */
export function notReadOnly(store: string, what: string, cause?: unknown): AnalyticsQueryError {
  return new AnalyticsQueryError(
    'not_read_only',
    `the threshold query ${what}, but ${store} is only read: it must be a single SELECT that computes the number`,
    { cause },
  );
}

/** The error for SQL the database refused (syntax, unknown table or column, ...), with the database's words. */
export function queryFailed(store: string, databaseMessage: string, cause?: unknown): AnalyticsQueryError {
  return new AnalyticsQueryError(
    'failed',
    `the threshold query failed on ${store}: ${databaseMessage.trim()}\nFix the SQL (try it in the database's own shell).`,
    { cause },
  );
}
