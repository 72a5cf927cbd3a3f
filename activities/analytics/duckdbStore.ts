import path from 'node:path';
import { DuckDBDecimalValue, DuckDBInstance, DuckDBTypeId, StatementType, type DuckDBConnection, type DuckDBResult, type DuckDBValue } from '@duckdb/node-api';
import type { AnalyticsStore } from './store.js';
import { AnalyticsQueryError, notReadOnly, queryFailed, queryTimeoutMs, timedOut } from './analyticsQueryError.js';
import { queryShape, withoutDataValues } from './queryText.js';
import { thresholdNumber, type FirstValue, type ResultSummary } from './scalarResult.js';

/** Rows read before giving up counting: enough to say how many when few, bounded when huge. */
const ROWS_READ_AT_MOST = 1_000;

const INTEGER_TYPES = new Set([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
]);

/** What a query may use: the operator's settings (REFIT_DUCKDB_MEMORY_LIMIT, REFIT_DUCKDB_THREADS, REFIT_ANALYTICS_FILES). */
export interface DuckdbLimits {
  /** A DuckDB size: "1GB", "512MB". */
  memoryLimit: string;
  threads: number;
  /** Folders (or files) a query may read with read_parquet(...), read_csv(...); nothing else on disk. */
  allowedPaths: string[];
}

export const DEFAULT_DUCKDB_LIMITS: DuckdbLimits = { memoryLimit: '1GB', threads: 2, allowedPaths: [] };

export function duckdbLimitsFromEnvironment(env: NodeJS.ProcessEnv = process.env): DuckdbLimits {
  const threads = Number(env.REFIT_DUCKDB_THREADS || DEFAULT_DUCKDB_LIMITS.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`REFIT_DUCKDB_THREADS must be a whole number of threads, not "${env.REFIT_DUCKDB_THREADS}"`);
  const memoryLimit = env.REFIT_DUCKDB_MEMORY_LIMIT || DEFAULT_DUCKDB_LIMITS.memoryLimit;
  if (!/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memoryLimit))
    throw new Error(`REFIT_DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, not "${memoryLimit}"`);
  const allowedPaths = (env.REFIT_ANALYTICS_FILES ?? '')
    .split(path.delimiter)
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of allowedPaths)
    if (!path.isAbsolute(entry)) throw new Error(`REFIT_ANALYTICS_FILES lists "${entry}"; give absolute paths, separated by "${path.delimiter}"`);
  return { memoryLimit, threads, allowedPaths };
}

/** Error kinds that come from the query's text or the schema; the others may quote the data. */
const ABOUT_THE_QUERY = /^(Parser|Binder|Catalog|Permission|Not implemented|Syntax|Dependency|Transaction|Interrupt|IO) Error/;

/**
 * The embedded analytics store: a DuckDB file opened read-only, or an in-memory DuckDB. Queries are
 * untrusted: DuckDB runs with file system access off (but for the paths the operator lists), no
 * extensions installed or loaded, within a memory limit and a thread count, and its configuration locked so
 * a query cannot change any of that. Each query opens the database afresh and closes it after, because
 * DuckDB lets one process write a file or several read it: a store that kept the file open would lock out
 * the process that logs the inference data.
 */
export class DuckdbStore implements AnalyticsStore {
  readonly description: string;
  private closed = false;

  /** @param file absolute path of the database file; in memory when absent. */
  constructor(
    private readonly file?: string,
    private readonly limits: DuckdbLimits = DEFAULT_DUCKDB_LIMITS,
  ) {
    this.description = file ? `DuckDB (${file})` : 'DuckDB (in memory)';
  }

  async queryNumber(sql: string, options?: { timeoutMs?: number }): Promise<number> {
    if (this.closed) throw new Error(`${this.description} was closed; open the analytics store again`);
    const timeoutMs = queryTimeoutMs(options);
    const instance = await this.openInstance();
    try {
      const connection = await instance.connect();
      try {
        await this.lockDown(connection);
        return await this.runWithin(connection, sql, timeoutMs);
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Settings a query cannot undo: the configuration is locked last. */
  private async lockDown(connection: DuckDBConnection): Promise<void> {
    const quoted = (text: string) => `'${text.replace(/'/g, "''")}'`;
    const statements = [
      `SET allowed_paths = [${this.limits.allowedPaths
        .filter((entry) => !entry.endsWith('/'))
        .map(quoted)
        .join(', ')}]`,
      `SET allowed_directories = [${this.limits.allowedPaths.map((entry) => quoted(entry.endsWith('/') ? entry : `${entry}/`)).join(', ')}]`,
      // No spilling to disk: a query that needs more than the limit fails instead.
      "SET temp_directory = ''",
      'SET enable_external_access = false',
      `SET memory_limit = ${quoted(this.limits.memoryLimit)}`,
      `SET threads = ${this.limits.threads}`,
      'SET lock_configuration = true',
    ];
    for (const statement of statements) await connection.run(statement);
  }

  private async openInstance(): Promise<DuckDBInstance> {
    // No extension is ever fetched or loaded for a query: it would be code from the network.
    const settings = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', allow_community_extensions: 'false' };
    try {
      // READ_ONLY makes DuckDB itself refuse writes to the file; memory cannot be opened read-only.
      return this.file ? await DuckDBInstance.create(this.file, { ...settings, access_mode: 'READ_ONLY' }) : await DuckDBInstance.create(':memory:', settings);
    } catch (err) {
      const message = (err as Error).message;
      const hint = /Could not set lock/i.test(message)
        ? 'another process has the file open for writing, and DuckDB lets one process write a file or several read it: ' +
          'have the writer close it between writes, or point REFIT_ANALYTICS_URL at a copy'
        : 'check the path in REFIT_ANALYTICS_URL (duckdb:/path/to/analytics.duckdb) and that this user can read the file';
      throw new AnalyticsQueryError('unavailable', `cannot open ${this.description}: ${message}\n${hint}`, { cause: err });
    }
  }

  private async runWithin(connection: DuckDBConnection, sql: string, timeoutMs: number): Promise<number> {
    let interrupted = false;
    const timer = setTimeout(() => {
      interrupted = true;
      connection.interrupt();
    }, timeoutMs);
    try {
      // Refused by its first word, before DuckDB reads the text (with file access off, it would fail on the path instead).
      const shape = queryShape(sql);
      if (shape.kind === 'changing') throw notReadOnly(this.description, `is a ${shape.keyword} statement`);
      const statements = await connection.extractStatements(sql);
      if (statements.count !== 1) {
        throw new AnalyticsQueryError(
          'failed',
          `the threshold query holds ${statements.count} SQL statements for ${this.description}; it must be a single SELECT: ` +
            (statements.count === 0 ? 'write the query' : 'keep the one that computes the number and drop the others'),
        );
      }
      const prepared = await statements.prepare(0);
      // Memory is writable, so this check is what keeps the in-memory store read-only.
      if (prepared.statementType !== StatementType.SELECT) {
        throw notReadOnly(this.description, `is a ${StatementType[prepared.statementType] ?? 'non-SELECT'} statement`);
      }
      return thresholdNumber(await summarize(await prepared.stream()), this.description);
    } catch (err) {
      if (err instanceof AnalyticsQueryError) throw err;
      if (interrupted) throw timedOut(this.description, timeoutMs, err);
      const message = (err as Error).message.replace(/^Failed to extract statements: /, '');
      if (/read-only mode/i.test(message)) throw notReadOnly(this.description, 'tries to write', err);
      // The driver's error is not kept as the cause: its message may quote the data.
      throw queryFailed(this.description, withoutDataValues(message, sql, { fromData: !ABOUT_THE_QUERY.test(message) }));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads only as many rows as it takes to tell zero, one or many apart (and name the count when small). */
async function summarize(result: DuckDBResult): Promise<ResultSummary> {
  const columns = Array.from({ length: result.columnCount }, (_, i) => ({
    name: result.columnName(i),
    type: result.columnType(i).toString(),
  }));
  let rowCount = 0;
  let first: FirstValue | undefined;
  while (rowCount <= ROWS_READ_AT_MOST) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return { rowCount, columns, first };
    if (rowCount === 0 && columns.length > 0) first = firstValue(chunk.getColumnVector(0).getItem(0), result.columnTypeId(0));
    rowCount += chunk.rowCount;
  }
  return { rowCount, stoppedReading: true, columns, first };
}

/** Numeric-ness comes from the column's type: a VARCHAR holding "0.5" is still not a number. */
function firstValue(value: DuckDBValue, type: DuckDBTypeId): FirstValue {
  if (value === null) return { kind: 'null' };
  if (INTEGER_TYPES.has(type) && (typeof value === 'number' || typeof value === 'bigint')) {
    return { kind: 'integer', value: BigInt(value) };
  }
  if ((type === DuckDBTypeId.FLOAT || type === DuckDBTypeId.DOUBLE) && typeof value === 'number') {
    return { kind: 'number', value };
  }
  if (type === DuckDBTypeId.DECIMAL && value instanceof DuckDBDecimalValue) return { kind: 'number', value: value.toDouble() };
  return { kind: 'other' };
}
