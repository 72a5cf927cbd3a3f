// Threshold, trigger and guard SQL is written by automation authors: it reads the analytics data and
// nothing else of the machine, within the operator's limits, and its errors never carry the data.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { openAnalyticsStore, type AnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { duckdbLimitsFromEnvironment } from '../../activities/analytics/duckdbStore.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { CREATE_INFERENCE_LOG, FILL_INFERENCE_LOG, rejection } from '../analytics/thresholdQueryCases.js';

const SECRET = 'sk-refit-test-9d8c7b6a5f4e';
let home: string;
let secretFile: string;
let allowed: string;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'refit-hostile-sql-'));
  await new LocalSecretStore(path.join(home, 'secrets')).set('prod_token', SECRET);
  secretFile = path.join(home, 'secrets', 'prod_token');
  allowed = path.join(home, 'exports');
  mkdirSync(allowed);
  writeFileSync(path.join(allowed, 'scores.csv'), 'score\n0.25\n0.75\n');
  const instance = await DuckDBInstance.create(path.join(home, 'analytics.duckdb'));
  const connection = await instance.connect();
  await connection.run(CREATE_INFERENCE_LOG);
  await connection.run(FILL_INFERENCE_LOG);
  connection.closeSync();
  instance.closeSync();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe.each([
  ['a DuckDB file', () => `duckdb:${path.join(home, 'analytics.duckdb')}`],
  ['an in-memory DuckDB', () => 'duckdb::memory:'],
])('queries on %s', (_label, url) => {
  let store: AnalyticsStore;
  beforeAll(async () => {
    store = await openAnalyticsStore(url(), {
      refitHome: home,
      duckdb: duckdbLimitsFromEnvironment({ REFIT_DUCKDB_MEMORY_LIMIT: '300MB', REFIT_DUCKDB_THREADS: '1', REFIT_ANALYTICS_FILES: allowed }),
    });
  });
  afterAll(async () => store?.close());

  it.each([
    ['the secret store, through read_text', () => `SELECT CAST(content AS DOUBLE) FROM read_text('${secretFile}')`],
    ['the secret store, through read_csv', () => `SELECT count(*) FROM read_csv('${secretFile}')`],
    ['/etc/passwd', () => `SELECT count(*) FROM read_csv('/etc/passwd')`],
    ['the whole disk, through glob', () => `SELECT count(*) FROM glob('/**')`],
    ['a listed folder, through ".."', () => `SELECT count(*) FROM read_text('${allowed}/../secrets/prod_token')`],
    ["the worker's own environment", () => `SELECT CAST(content AS DOUBLE) FROM read_text('/proc/self/environ')`],
  ])('cannot read %s, and never shows its content', async (_what, sql) => {
    const error = await rejection(store.queryNumber(sql()));
    expect(error.kind).toBe('failed');
    expect(error.message).toMatch(/Permission Error|disabled by configuration/);
    expect(error.message).not.toContain(SECRET);
  });

  it('reads files where the operator lists them (REFIT_ANALYTICS_FILES)', async () => {
    expect(await store.queryNumber(`SELECT avg(score) FROM read_csv('${allowed}/scores.csv')`)).toBeCloseTo(0.5, 10);
  });

  it.each([
    ['INSTALL httpfs', 'INSTALL'],
    ['LOAD httpfs', 'LOAD'],
    ['SET enable_external_access = true', 'SET'],
    ["ATTACH '/tmp/other.duckdb'", 'ATTACH'],
    ["COPY (SELECT 1) TO '/tmp/refit-sql-out.csv'", 'COPY'],
    ['PRAGMA enable_profiling', 'PRAGMA'],
  ])('refuses %s as not read-only', async (sql, keyword) => {
    const error = await rejection(store.queryNumber(sql));
    expect(error.kind).toBe('not_read_only');
    expect(error.message).toContain(keyword);
  });

  it("runs within the operator's memory limit and thread count, which a query cannot change", async () => {
    expect(await store.queryNumber("SELECT current_setting('threads')::INTEGER")).toBe(1);
    expect(await store.queryNumber("SELECT CASE WHEN current_setting('memory_limit') LIKE '28%MiB' THEN 1 ELSE 0 END")).toBe(1);
    expect(await store.queryNumber("SELECT CASE WHEN current_setting('enable_external_access') THEN 1 ELSE 0 END")).toBe(0);
    expect(await store.queryNumber("SELECT CASE WHEN current_setting('autoload_known_extensions') THEN 1 ELSE 0 END")).toBe(0);
    expect(await store.queryNumber("SELECT CASE WHEN current_setting('lock_configuration') THEN 1 ELSE 0 END")).toBe(1);
  });

  it('fails a query that needs more memory than the limit, without spilling to disk', async () => {
    const error = await rejection(
      store.queryNumber("SELECT count(*) FROM (SELECT DISTINCT range::VARCHAR || repeat('x', 100) FROM range(20000000))", { timeoutMs: 60_000 }),
    );
    expect(error.message).toMatch(/Out of Memory|memory limit/i);
  });
});

describe('queries on PostgreSQL', () => {
  let server: TestPostgres;
  let store: AnalyticsStore;
  let admin: pg.Client;
  beforeAll(async () => {
    server = await startPostgres();
    admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(CREATE_INFERENCE_LOG);
    await admin.query(FILL_INFERENCE_LOG);
    await admin.query(`CREATE TABLE notes AS SELECT '${SECRET}'::text AS body`);
    store = await openAnalyticsStore(server.url, { refitHome: '/nonexistent' });
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await store?.close();
    await server?.stop();
  });

  it('reads at most two rows of a huge result', async () => {
    // 20^7 (over a billion) rows, produced one at a time: read to the end, they would outlast the limit.
    const sql = 'SELECT a.score FROM inference_log a, inference_log b, inference_log c, inference_log d, inference_log e, inference_log f, inference_log g';
    const error = await rejection(store.queryNumber(sql, { timeoutMs: 30_000 }));
    expect(error.kind).toBe('several_rows');
    expect(error.message).toMatch(/returned at least 2 rows/);
  });

  it('never shows a value from the data in an error', async () => {
    for (const sql of [
      'SELECT CAST(body AS double precision) FROM notes',
      'SELECT CAST(body AS integer) FROM notes',
      "SELECT to_date(body, 'YYYY-MM-DD')::text::int FROM notes",
    ]) {
      const error = await rejection(store.queryNumber(sql));
      expect(error.message).not.toContain(SECRET);
      expect(error.message).toMatch(/the value is not shown/);
    }
    const text = await rejection(store.queryNumber('SELECT body FROM notes'));
    expect(text.kind).toBe('not_a_number');
    expect(text.message).not.toContain(SECRET);
  });

  it('resets the session before a connection serves the next query: an advisory lock does not outlive its query', async () => {
    // A session-level lock survives the transaction's rollback; only the reset releases it.
    expect(await store.queryNumber('SELECT CASE WHEN pg_try_advisory_lock(4242) THEN 1 ELSE 0 END')).toBe(1);
    const { rows } = await admin.query("SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory'");
    expect(rows[0].held).toBe(0);
    expect(await store.queryNumber('SELECT CASE WHEN pg_try_advisory_lock(4242) THEN 1 ELSE 0 END')).toBe(1);
  });

  it('refuses a second statement even when the first hides it in a string', async () => {
    const error = await rejection(store.queryNumber("SELECT 1 WHERE 'a;' = 'a;'; DELETE FROM inference_log"));
    expect(error.kind).toBe('failed');
    expect(error.message).toMatch(/single SELECT/);
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM inference_log');
    expect(rows[0].n).toBe(20);
  });
});
