// The model-analytics store that dynamic thresholds query: DuckDB over local files by default, PostgreSQL at
// scale, chosen by REFIT_ANALYTICS_URL. Transport only: activities add Temporal's error handling on top.
import { existsSync } from 'node:fs';
import { AnalyticsUrlError, readAnalyticsUrl } from './analyticsUrl.js';
import { DuckdbStore, type DuckdbLimits } from './duckdbStore.js';
import { PostgresStore } from './postgresStore.js';
import type { AnalyticsStore } from './store.js';

export { AnalyticsQueryError, DEFAULT_QUERY_TIMEOUT_MS, type AnalyticsQueryErrorKind } from './analyticsQueryError.js';
export { AnalyticsUrlError } from './analyticsUrl.js';
export type { AnalyticsStore } from './store.js';

/**
 * Opens the analytics store a URL names (see AnalyticsUrlError's message for the forms). Throws
 * AnalyticsUrlError for a URL it cannot use, including a DuckDB file that does not exist. Connects to
 * PostgreSQL only when the first query runs.
 */
export async function openAnalyticsStore(url: string | undefined, options: { refitHome: string; duckdb?: DuckdbLimits }): Promise<AnalyticsStore> {
  const location = readAnalyticsUrl(url, options.refitHome);
  if (location.kind === 'postgres') return new PostgresStore(location.url);
  if (location.file && !existsSync(location.file)) {
    throw new AnalyticsUrlError(
      `REFIT_ANALYTICS_URL names the DuckDB file ${location.file}, which does not exist: ` +
        'fix the path, or create the file with the process that writes the inference logs',
    );
  }
  return new DuckdbStore(location.file, options.duckdb);
}
