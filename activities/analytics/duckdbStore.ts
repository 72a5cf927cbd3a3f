import {
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTypeId,
  StatementType,
  type DuckDBConnection,
  type DuckDBResult,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { AnalyticsStore } from './analyticsStore.js';
import { AnalyticsQueryError, notReadOnly, queryFailed, queryTimeoutMs, timedOut } from './analyticsQueryError.js';
import { thresholdNumber, type FirstValue, type ResultSummary } from './scalarResult.js';

/** Rows read before giving up counting: enough to say how many when few, bounded when huge. */
const ROWS_READ_AT_MOST = 1_000;

const INTEGER_TYPES = new Set([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
]);

/**
 * The embedded analytics store: a DuckDB file opened read-only, or an in-memory DuckDB whose queries read
 * local files (read_parquet, read_csv). Each query opens the database afresh and closes it after, because
 * DuckDB lets one process write a file or several read it: a store that kept the file open would lock out
 * the process that logs the inference data.
 */
export class DuckdbStore implements AnalyticsStore {
  readonly description: string;
  private closed = false;

  /** @param file absolute path of the database file; in memory when absent. */
  constructor(private readonly file?: string) {
    this.description = file ? `DuckDB (${file})` : 'DuckDB (in memory)';
  }

  async queryNumber(sql: string, options?: { timeoutMs?: number }): Promise<number> {
    if (this.closed) throw new Error(`${this.description} was closed; open the analytics store again`);
    const timeoutMs = queryTimeoutMs(options);
    const instance = await this.openInstance();
    try {
      const connection = await instance.connect();
      try {
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

  private async openInstance(): Promise<DuckDBInstance> {
    try {
      // READ_ONLY makes DuckDB itself refuse writes to the file; memory cannot be opened read-only.
      return this.file ? await DuckDBInstance.create(this.file, { access_mode: 'READ_ONLY' }) : await DuckDBInstance.create(':memory:');
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
      throw queryFailed(this.description, message, err);
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
  return { kind: 'other', shown: String(value) };
}
