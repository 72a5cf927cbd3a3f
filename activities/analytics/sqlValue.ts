// "Run one SQL value against the analytics store": open it, query, close, and say what a failure means
// (a query to fix fails at once, a store that is down or slow is retried). Used by the deployment
// condition, canary guards, metric triggers and plans alike.
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { AnalyticsQueryError, type AnalyticsStore } from './analyticsStore.js';

export interface SqlValue {
  value: number;
  /** The store it was read from, for messages: "DuckDB (/path)". */
  store: string;
}

export async function sqlValue(options: { openAnalytics: () => Promise<AnalyticsStore>; sql: string; what: string; timeoutMs: number }): Promise<SqlValue> {
  const store = await options.openAnalytics();
  try {
    return { value: await store.queryNumber(options.sql, { timeoutMs: options.timeoutMs }), store: store.description };
  } catch (err) {
    throw analyticsFailure(err, options.what);
  } finally {
    await store.close();
  }
}

/** A store that is down or slow may recover (retry); a query that returns the wrong shape will not. */
export function analyticsFailure(err: unknown, what: string): Error {
  if (err instanceof AnalyticsQueryError && !['unavailable', 'timeout'].includes(err.kind)) {
    return new RefitError(ErrorTypes.ThresholdQueryInvalid, `${what} failed: ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
