// The threshold-query cases every analytics store must pass, in SQL that DuckDB and PostgreSQL both read.
// Each store's test file creates the inference log below in a real database and runs these cases on it.
import { expect, it } from '@jest/globals';
import { AnalyticsQueryError, type AnalyticsQueryErrorKind, type AnalyticsStore } from '../../activities/analytics/analyticsStore.js';

export const CREATE_INFERENCE_LOG = `CREATE TABLE inference_log (
  model VARCHAR NOT NULL,
  latency_ms INTEGER NOT NULL,
  correct BOOLEAN NOT NULL,
  score DOUBLE PRECISION NOT NULL
)`;

/** Ten predictions each for two models: churn is right 7 times in 10, fraud twice. */
export const FILL_INFERENCE_LOG = `INSERT INTO inference_log (model, latency_ms, correct, score) VALUES ${Array.from({ length: 10 }, (_, i) => [
  `('churn', ${(i + 1) * 100}, ${i < 7}, ${(i + 1) / 10})`,
  `('fraud', ${(i + 1) * 10}, ${i < 2}, ${(i + 1) / 20})`,
])
  .flat()
  .join(', ')}`;

export const INFERENCE_LOG_ROWS = 20;

/** The dynamic threshold the product is for: the model's accuracy over its logged predictions. */
export const CHURN_ACCURACY = `SELECT avg(CASE WHEN correct THEN 1.0 ELSE 0.0 END) AS accuracy FROM inference_log WHERE model = 'churn'`;

export async function rejection(promise: Promise<unknown>): Promise<AnalyticsQueryError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AnalyticsQueryError) return err;
    throw err;
  }
  throw new Error('expected the query to be rejected, but it returned a number');
}

/**
 * Defines the shared cases inside the caller's describe(). `store()` is read when a case runs, after the
 * caller's beforeAll opened it; `slowQuery` is a query in the store's dialect that runs for many seconds.
 */
export function thresholdQueryCases(store: () => AnalyticsStore, dialect: { slowQuery: string }): void {
  async function expectRejected(sql: string, kind: AnalyticsQueryErrorKind, ...phrases: (string | RegExp)[]) {
    const error = await rejection(store().queryNumber(sql));
    expect(error.kind).toBe(kind);
    expect(error.message).toContain(store().description);
    for (const phrase of phrases) expect(error.message).toMatch(phrase);
    return error;
  }

  it('returns the number a threshold query computes from the inference log', async () => {
    expect(await store().queryNumber(CHURN_ACCURACY)).toBeCloseTo(0.7, 10);
    expect(await store().queryNumber(`SELECT count(*) FROM inference_log WHERE correct`)).toBe(9);
  });

  it.each([
    ['an integer', `SELECT CAST(max(latency_ms) AS INTEGER) FROM inference_log`, 1000],
    ['an integer sum (a wider integer type)', `SELECT sum(latency_ms) FROM inference_log WHERE model = 'churn'`, 5500],
    ['a bigint at the edge of what a double holds exactly', `SELECT CAST(9007199254740991 AS BIGINT)`, 9007199254740991],
    ['a negative bigint', `SELECT CAST(-42 AS BIGINT)`, -42],
    ['a decimal', `SELECT CAST(avg(score) AS DECIMAL(10, 3)) FROM inference_log WHERE model = 'churn'`, 0.55],
    ['a sum of decimals', `SELECT sum(CAST(score AS DECIMAL(10, 2))) FROM inference_log WHERE model = 'fraud'`, 2.75],
    ['a real', `SELECT CAST(0.25 AS REAL)`, 0.25],
    ['a double', `SELECT avg(score) FROM inference_log WHERE model = 'fraud'`, 0.275],
  ])('reads %s as a number', async (_label, sql, expected) => {
    expect(await store().queryNumber(sql)).toBeCloseTo(expected, 10);
  });

  it('rejects a query that returns no rows, and says to aggregate or check the WHERE clause', async () => {
    await expectRejected(`SELECT score FROM inference_log WHERE model = 'nope'`, 'no_rows', 'returned no rows', 'WHERE clause', 'aggregate');
  });

  it('rejects a query that returns two rows, and says to aggregate or add LIMIT 1', async () => {
    await expectRejected(
      `SELECT score FROM inference_log WHERE model = 'churn' ORDER BY score LIMIT 2`,
      'several_rows',
      /returned (at least )?2 rows/,
      'LIMIT 1',
    );
  });

  it('rejects a query that returns two columns, naming them', async () => {
    await expectRejected(
      `SELECT avg(score) AS mean, max(score) AS top FROM inference_log`,
      'several_columns',
      'returned 2 columns (mean, top)',
      'exactly one numeric column',
    );
  });

  it('rejects a text column even when its text reads as a number, without showing the value', async () => {
    const error = await expectRejected(
      `SELECT CAST(0.5 AS VARCHAR) AS accuracy FROM inference_log LIMIT 1`,
      'not_a_number',
      'column "accuracy"',
      'not a numeric type',
      'its value is not shown',
      'CAST(',
    );
    expect(error.message).not.toContain('0.5');
  });

  it('never shows a value from the data in an error, only which column or type failed', async () => {
    const error = await expectRejected(
      `SELECT CAST(model || '-sekrit' AS DOUBLE PRECISION) FROM inference_log LIMIT 1`,
      'failed',
      /could not be converted/,
      'the value is not shown',
    );
    expect(error.message).not.toMatch(/churn-sekrit|fraud-sekrit/);
  });

  it('rejects NULL (an aggregate over no rows), and suggests coalesce', async () => {
    await expectRejected(`SELECT avg(score) FROM inference_log WHERE model = 'nope'`, 'null', 'returned NULL', 'coalesce');
  });

  it('rejects an integer a double cannot hold exactly', async () => {
    const error = await expectRejected(`SELECT CAST(9007199254740993 AS BIGINT) AS big`, 'not_a_number', 'beyond those a double holds exactly');
    expect(error.message).not.toContain('9007199254740993');
  });

  it('refuses an INSERT as not read-only and leaves the data unchanged', async () => {
    await expectRejected(`INSERT INTO inference_log (model, latency_ms, correct, score) VALUES ('churn', 1, false, 0)`, 'not_read_only', 'single SELECT');
    expect(await store().queryNumber(`SELECT count(*) FROM inference_log`)).toBe(INFERENCE_LOG_ROWS);
    expect(await store().queryNumber(CHURN_ACCURACY)).toBeCloseTo(0.7, 10);
  });

  it('refuses a CREATE as not read-only and creates nothing', async () => {
    await expectRejected(`CREATE TABLE sneaky (x INTEGER)`, 'not_read_only', 'single SELECT');
    expect(await store().queryNumber(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'sneaky'`)).toBe(0);
  });

  it('refuses several statements in one query', async () => {
    await expectRejected(`SELECT 1; SELECT 2`, 'failed', 'single SELECT');
  });

  it("reports a syntax error as failed, with the database's own message", async () => {
    await expectRejected(`SELEC avg(score) FROM inference_log`, 'failed', /syntax error/i, 'SELEC');
  });

  it('reports an unknown table as failed, naming it', async () => {
    await expectRejected(`SELECT avg(score) FROM inference_logs`, 'failed', 'inference_logs');
  });

  it('stops a slow query at its time limit and stays usable', async () => {
    const started = Date.now();
    const error = await rejection(store().queryNumber(dialect.slowQuery, { timeoutMs: 300 }));
    const elapsed = Date.now() - started;
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('300 ms');
    expect(error.message).toContain(store().description);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(await store().queryNumber(CHURN_ACCURACY)).toBeCloseTo(0.7, 10);
  });

  it('refuses a time limit that is not a positive number: a bug in the caller', async () => {
    await expect(store().queryNumber('SELECT 1', { timeoutMs: 0 })).rejects.toThrow(RangeError);
  });
}
