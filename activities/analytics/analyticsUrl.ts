import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where the analytics store lives, as read from REFIT_ANALYTICS_URL. */
export type AnalyticsLocation =
  /** A DuckDB file (absolute path), or an in-memory DuckDB when `file` is absent. */
  { kind: 'duckdb'; file?: string } | { kind: 'postgres'; url: string };

/** REFIT_ANALYTICS_URL names nothing Refit can open; the message lists what it accepts. */
export class AnalyticsUrlError extends Error {
  override readonly name = 'AnalyticsUrlError';
}

export const DEFAULT_DUCKDB_FILE = 'analytics.duckdb';

const ACCEPTED_FORMS = [
  `(unset or empty)              the DuckDB file $REFIT_HOME/${DEFAULT_DUCKDB_FILE} if it exists, else an in-memory DuckDB`,
  'duckdb:/abs/path.duckdb       a DuckDB file, opened read-only (also duckdb:///abs/path.duckdb)',
  'duckdb:relative/path.duckdb   a DuckDB file relative to the working directory',
  'duckdb::memory:               an in-memory DuckDB (queries read files with read_parquet(...), read_csv(...))',
  'postgres://user:password@host:port/database   PostgreSQL (also postgresql://)',
].join('\n  ');

/**
 * Reads an analytics store URL. Only the default looks at the file system: it takes the DuckDB file in
 * REFIT_HOME when there is one, so a fresh machine works with no configuration.
 */
export function readAnalyticsUrl(url: string | undefined, refitHome: string, cwd = process.cwd()): AnalyticsLocation {
  const value = url?.trim() ?? '';
  if (value === '') {
    const file = path.join(refitHome, DEFAULT_DUCKDB_FILE);
    return existsSync(file) ? { kind: 'duckdb', file } : { kind: 'duckdb' };
  }
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  const duckdb = /^duckdb:(.*)$/is.exec(value);
  if (!duckdb) throw unaccepted(value, 'it is neither duckdb: nor postgres://');
  const rest = duckdb[1] ?? '';
  if (rest === ':memory:') return { kind: 'duckdb' };
  if (rest.startsWith('//')) {
    // duckdb://host/... would name a host, and DuckDB files are local: only an empty host is accepted.
    if (!rest.startsWith('///')) throw unaccepted(value, 'a DuckDB file is local, so the part after duckdb:// must be empty (duckdb:///abs/path)');
    return { kind: 'duckdb', file: rest.slice(2) };
  }
  if (rest === '') throw unaccepted(value, 'it names no file');
  return { kind: 'duckdb', file: path.resolve(cwd, rest) };
}

function unaccepted(value: string, why: string): AnalyticsUrlError {
  return new AnalyticsUrlError(`REFIT_ANALYTICS_URL ${shownSafely(value)} is not an analytics store Refit can open: ${why}. Use one of:\n  ${ACCEPTED_FORMS}`);
}

/** The value as it can be shown: anything with an "@" may carry a password, so only its scheme is shown. */
function shownSafely(value: string): string {
  if (!value.includes('@')) return `"${value}"`;
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(value)?.[0];
  return scheme ? `(a "${scheme}" URL, shown no further as it may hold a password)` : '(shown no further as it may hold a password)';
}
