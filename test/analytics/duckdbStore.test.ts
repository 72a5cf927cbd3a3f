import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DuckDBInstance } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { openAnalyticsStore, type AnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { DEFAULT_DUCKDB_LIMITS } from '../../activities/analytics/duckdbStore.js';
import { packageRoot } from '../../platform/paths.js';
import { CREATE_INFERENCE_LOG, FILL_INFERENCE_LOG, rejection, thresholdQueryCases } from './thresholdQueryCases.js';

// Tens of billions of rows: far longer than any time limit a test sets.
const SLOW_QUERY = 'SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b';

let dir: string;
let file: string;

async function writeDatabase(target: string, ...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(target);
  const connection = await instance.connect();
  try {
    for (const sql of statements) await connection.run(sql);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'refit-duckdb-'));
  file = path.join(dir, 'analytics.duckdb');
  await writeDatabase(file, CREATE_INFERENCE_LOG, FILL_INFERENCE_LOG);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('DuckDB analytics store over a file, opened read-only', () => {
  let store: AnalyticsStore;
  beforeAll(async () => {
    store = await openAnalyticsStore(`duckdb:${file}`, { refitHome: dir });
  });
  afterAll(async () => store?.close());

  it('describes itself by its file', () => {
    expect(store.description).toBe(`DuckDB (${file})`);
  });

  thresholdQueryCases(() => store, { slowQuery: SLOW_QUERY });

  it('refuses a query that would write a file', async () => {
    const target = path.join(dir, 'copied.csv');
    const error = await rejection(store.queryNumber(`COPY inference_log TO '${target}'`));
    expect(error.kind).toBe('not_read_only');
    expect(error.message).toContain('COPY');
    expect(existsSync(target)).toBe(false);
  });

  it('keeps the file closed between queries, so a writer in another process can open it', async () => {
    expect(await store.queryNumber('SELECT count(*) FROM inference_log')).toBe(20);
    const writer = await holdOpenForWriting(file);
    try {
      // DuckDB lets one process write a file or several read it: while the writer has it, the store cannot read.
      const error = await rejection(store.queryNumber('SELECT count(*) FROM inference_log'));
      expect(error.kind).toBe('unavailable');
      expect(error.message).toContain(store.description);
      expect(error.message).toContain('open for writing');
    } finally {
      writer.stdin.end();
      await once(writer, 'exit');
    }
    expect(await store.queryNumber('SELECT count(*) FROM inference_log')).toBe(20);
  });
});

describe('DuckDB analytics store in memory', () => {
  let store: AnalyticsStore;
  beforeAll(async () => {
    // Files only where the operator lists them (REFIT_ANALYTICS_FILES): here, the test's folder.
    store = await openAnalyticsStore('duckdb::memory:', { refitHome: dir, duckdb: { ...DEFAULT_DUCKDB_LIMITS, allowedPaths: [dir] } });
  });
  afterAll(async () => store?.close());

  it('reads a Parquet file of inference logs', async () => {
    const parquet = path.join(dir, 'inference_log.parquet');
    await writeDatabase(':memory:', CREATE_INFERENCE_LOG, FILL_INFERENCE_LOG, `COPY inference_log TO '${parquet}' (FORMAT parquet)`);
    const accuracy = `SELECT avg(CASE WHEN correct THEN 1.0 ELSE 0.0 END) FROM read_parquet('${parquet}') WHERE model = 'churn'`;
    expect(store.description).toBe('DuckDB (in memory)');
    expect(await store.queryNumber(accuracy)).toBeCloseTo(0.7, 10);
  });

  it('reads a CSV file of inference logs', async () => {
    const csv = path.join(dir, 'inference_log.csv');
    writeFileSync(csv, 'model,latency_ms,correct,score\nchurn,120,true,0.9\nchurn,80,false,0.4\nfraud,30,true,0.7\n');
    expect(await store.queryNumber(`SELECT max(latency_ms) FROM read_csv('${csv}') WHERE model = 'churn'`)).toBe(120);
    expect(await store.queryNumber(`SELECT avg(score) FROM read_csv('${csv}')`)).toBeCloseTo(2 / 3, 10);
  });

  it('refuses to create tables or write files even though memory is writable', async () => {
    const created = await rejection(store.queryNumber('CREATE TABLE t AS SELECT 1 AS x'));
    expect(created.kind).toBe('not_read_only');
    expect(created.message).toContain('CREATE');
    const target = path.join(dir, 'written.csv');
    const copied = await rejection(store.queryNumber(`COPY (SELECT 1) TO '${target}'`));
    expect(copied.kind).toBe('not_read_only');
    expect(existsSync(target)).toBe(false);
  });

  it('stops a slow query at its time limit', async () => {
    const error = await rejection(store.queryNumber(SLOW_QUERY, { timeoutMs: 200 }));
    expect(error.kind).toBe('timeout');
  });

  it('reports a missing file as failed, naming it', async () => {
    const missing = path.join(dir, 'missing.parquet');
    const error = await rejection(store.queryNumber(`SELECT count(*) FROM read_parquet('${missing}')`));
    expect(error.kind).toBe('failed');
    expect(error.message).toContain(missing);
  });
});

/** Another process holding the file open for writing, as the process that logs inference data would. */
async function holdOpenForWriting(target: string) {
  // The instance and its connection stay referenced until stdin ends: once unreferenced, a GC would close the
  // database and drop its lock while the test still counts on it.
  const program = `
    import { DuckDBInstance } from '@duckdb/node-api';
    const instance = await DuckDBInstance.create(process.argv[1]);
    const connection = await instance.connect();
    await connection.run('SELECT 1');
    console.log('open');
    process.stdin
      .on('end', () => {
        connection.closeSync();
        instance.closeSync();
        process.exit(0);
      })
      .resume();`;
  const writer = spawn(process.execPath, ['--input-type=module', '-e', program, target], {
    cwd: packageRoot(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: writer.stdout }), 'line')) as [string];
  if (line !== 'open') throw new Error(`the writer process said "${line}" instead of "open"`);
  return writer;
}
