// What every analytics store (DuckDB, PostgreSQL) offers a threshold, trigger or guard query.

export interface AnalyticsStore {
  /** What it is, for messages: "DuckDB (/path/analytics.duckdb)", "PostgreSQL (host:port/db)"; never a password. */
  readonly description: string;
  /**
   * Runs one read-only query that must return exactly one row with exactly one numeric column; returns that
   * number. Throws AnalyticsQueryError, whose kind says what went wrong and whose message says what to fix.
   */
  queryNumber(sql: string, options?: { timeoutMs?: number }): Promise<number>;
  close(): Promise<void>;
}
