import pg from 'pg';
import type { AnalyticsStore } from './store.js';
import { AnalyticsQueryError, notReadOnly, queryFailed, queryTimeoutMs, timedOut } from './analyticsQueryError.js';
import { AnalyticsUrlError } from './analyticsUrl.js';
import { queryShape, withoutDataValues } from './queryText.js';
import { thresholdNumber, type FirstValue, type ResultSummary } from './scalarResult.js';

// Type OIDs from pg_type: numeric-ness is decided by the column's type, never by what the text looks like.
const INTEGER_OIDS = new Set([21, 23, 20]); // int2, int4, int8
const FRACTIONAL_OIDS = new Set([700, 701, 1700]); // float4, float8, numeric
const TYPE_NAMES: Record<number, string> = {
  16: 'boolean',
  19: 'name',
  20: 'bigint',
  21: 'smallint',
  23: 'integer',
  25: 'text',
  26: 'oid',
  114: 'json',
  700: 'real',
  701: 'double precision',
  705: 'unknown',
  790: 'money',
  1042: 'char',
  1043: 'varchar',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'interval',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
};

/** Every value as PostgreSQL's text, so int8 and numeric are parsed here, by type, without silent rounding. */
const RAW_TEXT = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

/** Past the server's statement_timeout, the client gives up too: a server that stopped answering cannot cancel. */
const CLIENT_GRACE_MS = 5_000;
const CONNECT_TIMEOUT_MS = 10_000;

/** SQLSTATE classes and driver errors that mean "the server cannot be reached or used", not "the SQL is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|28|3D|53|57P)/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT']);

/**
 * The analytics store at scale. Each query runs in its own READ ONLY transaction with a statement timeout
 * and is rolled back, so a threshold query can neither write nor outlast its limit. Connections are made
 * on first use: a database that is down makes queries fail as `unavailable`, not the worker refuse to start.
 */
export class PostgresStore implements AnalyticsStore {
  readonly description: string;
  private readonly pool: pg.Pool;
  private readonly secrets: string[];
  private closed = false;

  constructor(url: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      // Not even the URL's error is passed on: it would carry the URL, password included.
      throw new AnalyticsUrlError(
        'REFIT_ANALYTICS_URL starts with postgres:// but is not a valid URL; write it as ' +
          'postgres://user:password@host:port/database, with special characters in the password %-encoded',
      );
    }
    const password = safeDecode(parsed.password);
    const user = safeDecode(parsed.username);
    const host = parsed.searchParams.get('host') ?? (parsed.hostname || 'localhost');
    const database = safeDecode(parsed.pathname.replace(/^\//, '')) || user || 'postgres';
    this.description = `PostgreSQL (${host}:${parsed.port || '5432'}/${database})`;
    this.secrets = [password, parsed.password, process.env.PGPASSWORD ?? ''].filter((secret) => secret !== '');
    this.pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
      application_name: 'refit-analytics',
    });
    // An idle connection the server closed (restart, idle timeout): the pool drops it and opens another later.
    this.pool.on('error', () => undefined);
  }

  async queryNumber(sql: string, options?: { timeoutMs?: number }): Promise<number> {
    if (this.closed) throw new Error(`${this.description} was closed; open the analytics store again`);
    const timeoutMs = queryTimeoutMs(options);
    const client = await this.connect();
    // A connection in an unknown state is destroyed rather than handed to the next query.
    let broken: Error | undefined;
    const shape = queryShape(sql);
    if (shape.kind === 'several') {
      await this.finish(client, undefined);
      throw queryFailed(this.description, `the query holds ${shape.count} statements (the threshold query must be a single SELECT: drop the other statements)`);
    }
    if (shape.kind === 'changing') {
      await this.finish(client, undefined);
      throw notReadOnly(this.description, `is a ${shape.keyword} statement`);
    }
    // Only two rows are ever read: enough to tell one from several, so a huge result is never fetched.
    const text = shape.kind === 'select' ? `SELECT * FROM (\n${shape.query}\n) AS refit_threshold LIMIT 2` : shape.query;
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${timeoutMs}`);
      // queryMode 'extended' runs exactly one statement: "SELECT 1; COMMIT; DELETE ..." is refused instead of
      // ending the read-only transaction. (The option is missing from @types/pg, hence the cast.)
      const query = { text, rowMode: 'array', types: RAW_TEXT, query_timeout: timeoutMs + CLIENT_GRACE_MS, queryMode: 'extended' };
      const result = await client.query(query as pg.QueryArrayConfig);
      if (result.fields.length === 0 && result.command !== 'SELECT') {
        throw notReadOnly(this.description, `is a ${result.command} statement`);
      }
      return thresholdNumber(summarize(result), this.description);
    } catch (err) {
      if (err instanceof AnalyticsQueryError) throw err;
      const classified = this.classify(err as Error, timeoutMs, sql);
      if (classified.kind === 'unavailable' || classified.kind === 'timeout') broken = err as Error;
      throw classified;
    } finally {
      await this.finish(client, broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.unavailable(err as Error);
    }
  }

  /**
   * Ends the transaction (nothing was written, but a rollback says so), resets what a query may have left in
   * the session (settings, advisory locks, temporary tables: DISCARD ALL), and gives the connection back.
   */
  private async finish(client: pg.PoolClient, broken: Error | undefined): Promise<void> {
    if (!broken) {
      try {
        await client.query('ROLLBACK');
        await client.query('DISCARD ALL');
      } catch (err) {
        broken = err as Error;
      }
    }
    client.release(broken);
  }

  private classify(err: Error & { code?: string }, timeoutMs: number, sql: string): AnalyticsQueryError {
    // Class 22 (data exceptions) and raised exceptions quote the data; the others are about the query.
    const fromData = /^(22|23|P0|2F|39)/.test(err.code ?? '');
    const message = withoutDataValues(this.redact(err.message), sql, { fromData });
    if (err.code === '25006') return notReadOnly(this.description, `tries to write (${message})`, err);
    if ((err.code === '57014' && /statement timeout/i.test(message)) || /Query read timeout/i.test(message)) {
      return timedOut(this.description, timeoutMs, err);
    }
    if (isConnectionTrouble(err)) return this.unavailable(err);
    if (/multiple commands into a prepared statement/i.test(message)) {
      return queryFailed(this.description, `${message} (the threshold query must be a single SELECT: drop the other statements)`);
    }
    // The driver's error is not kept as the cause: its message may quote the data.
    return queryFailed(this.description, message);
  }

  private unavailable(err: Error & { code?: string }): AnalyticsQueryError {
    // Node reports a refused connection to several addresses as an AggregateError with an empty message.
    const detail = this.redact(err.message || err.code || String(err));
    return new AnalyticsQueryError(
      'unavailable',
      `cannot reach ${this.description}: ${detail}\n` +
        'Check that the server is running and REFIT_ANALYTICS_URL (postgres://user:password@host:port/database) ' +
        'names the right host, port, database, user and password.',
      // The driver's error is kept out: it may hold connection parameters.
    );
  }

  /** Drivers and servers do not echo passwords, but a message that ever did would leak one: belt and braces. */
  private redact(text: string): string {
    return this.secrets.reduce((shown, secret) => shown.split(secret).join('****'), text);
  }
}

function isConnectionTrouble(err: Error & { code?: string }): boolean {
  if (err.code && (UNAVAILABLE_SQLSTATE.test(err.code) || NETWORK_CODES.has(err.code))) return true;
  return /Connection terminated|terminating connection|timeout exceeded when trying to connect/i.test(err.message);
}

function summarize(result: pg.QueryArrayResult): ResultSummary {
  const columns = result.fields.map((field) => ({ name: field.name, type: TYPE_NAMES[field.dataTypeID] ?? `type OID ${field.dataTypeID}` }));
  const first = result.rows[0]?.[0] as string | null | undefined;
  const oid = result.fields[0]?.dataTypeID;
  // At most two rows are read (LIMIT 2), so two may mean more.
  return {
    rowCount: result.rows.length,
    stoppedReading: result.rows.length >= 2,
    columns,
    first: first === undefined || oid === undefined ? undefined : firstValue(first, oid),
  };
}

function firstValue(text: string | null, oid: number): FirstValue {
  if (text === null) return { kind: 'null' };
  if (INTEGER_OIDS.has(oid)) return { kind: 'integer', value: BigInt(text) };
  // Number() reads numeric's and float's 'NaN' and '±Infinity' too; the rule then refuses them.
  if (FRACTIONAL_OIDS.has(oid)) return { kind: 'number', value: Number(text) };
  return { kind: 'other' };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
