import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { openAnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';
import { packageRoot } from '../../platform/paths.js';
import { ErrorTypes } from '../../shared/errors.js';
import { GOOD_F1, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { recordHistory } from '../harness/recordHistory.js';

// Quality of the serving model over the last days, as a monitoring job would record it.
const CREATE = 'CREATE TABLE model_quality (day DATE, f1 DOUBLE PRECISION)';
const FILL = "INSERT INTO model_quality VALUES ('2026-11-25', 0.90), ('2026-11-26', 0.92)";

/** The five shapes a threshold query must not have, and what the failure says about each. */
const MALFORMED: [string, string, RegExp][] = [
  ['no rows', 'SELECT f1 FROM model_quality WHERE f1 > 2', /returned no rows .*it must return exactly one row/],
  ['two rows', 'SELECT f1 FROM model_quality', /returned (at least )?2 rows .*it must return exactly one row/],
  ['two columns', 'SELECT avg(f1), max(f1) FROM model_quality', /returned 2 columns/],
  ['a string', "SELECT 'high' AS level", /returned column "level" .*not a numeric type \(its value is not shown\)/],
  ['NULL', 'SELECT avg(f1) FROM model_quality WHERE f1 > 2', /returned NULL/],
];

function servingBuild(fixture: Fixture, modelId: string): Promise<string | undefined> {
  const target = new LocalDeploymentTarget({
    deploymentsRoot: path.join(fixture.home, 'deployments'),
    sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
    secrets: null as never,
  });
  return target.status(modelId, '').then((status) => status?.variations.default?.buildId);
}

function thresholdSuite(store: 'DuckDB' | 'PostgreSQL', malformed: typeof MALFORMED, setUp: () => Promise<{ fixture: Fixture; tearDown(): Promise<void> }>) {
  describe(`a dynamic SQL threshold on ${store}`, () => {
    let fixture: Fixture;
    let tearDown: () => Promise<void>;
    let deployedBuild: string;
    beforeAll(async () => {
      ({ fixture, tearDown } = await setUp());
    });
    afterAll(async () => tearDown?.());

    const withThreshold = (threshold: string) =>
      fixture.automation((input) => {
        input.action.deployment_condition.threshold = threshold;
      });

    it('computes the threshold with SQL and deploys a build above it', async () => {
      const workflowId = `sql-${fixture.taskQueue}`;
      const result = await fixture.run(withThreshold('SELECT avg(f1) FROM model_quality'), workflowId);
      if (store === 'DuckDB') await recordHistory(fixture.server.client, workflowId, 'sql-threshold-deployed');
      expect(result.condition).toMatchObject({ passed: true, value: GOOD_F1, threshold_source: 'sql', threshold_query: 'SELECT avg(f1) FROM model_quality' });
      expect(result.condition!.threshold).toBeCloseTo(0.91, 10);
      expect(result.deployed).toBe(true);
      deployedBuild = result.build_id;
    });

    it('does not deploy a build below a SQL threshold', async () => {
      const result = await fixture.run(withThreshold('SELECT max(f1) + 0.5 FROM model_quality'));
      expect(result).toMatchObject({ deployed: false, condition: { passed: false, threshold_source: 'sql' } });
      expect(result.reason).toMatch(/is not above the SQL threshold 1\.42/);
      expect(await servingBuild(fixture, fixture.automation(() => undefined).model_id)).toBe(deployedBuild);
    });

    it.each(malformed)('fails without deploying when the query returns %s', async (_shape, sql, message) => {
      const failure = await fixture.runFailing(withThreshold(sql));
      if (store === 'DuckDB' && _shape === 'two rows') await recordHistory(fixture.server.client, failure.workflowId, 'threshold-query-two-rows');
      expect(failure.type).toBe(ErrorTypes.ThresholdQueryInvalid);
      expect(failure.message).toMatch(/^checking condition failed: the dynamic threshold failed: /);
      expect(failure.message).toMatch(message);
      expect(await servingBuild(fixture, fixture.automation(() => undefined).model_id)).toBe(deployedBuild);
    });
  });
}

thresholdSuite('DuckDB', MALFORMED, async () => {
  const fixture = await startFixture('duck', {});
  const file = path.join(fixture.home, 'analytics.duckdb');
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  await connection.run(CREATE);
  await connection.run(FILL);
  connection.closeSync();
  instance.closeSync();
  return { fixture, tearDown: () => fixture.close() };
});

let postgres: TestPostgres;
thresholdSuite(
  'PostgreSQL',
  MALFORMED.filter(([shape]) => shape === 'two rows' || shape === 'a string'),
  async () => {
    postgres = await startPostgres();
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await client.query(CREATE);
    await client.query(FILL);
    await client.end();
    const fixture = await startFixture('pg', { openAnalytics: () => openAnalyticsStore(postgres.url, { refitHome: '/nonexistent' }) });
    return {
      fixture,
      async tearDown() {
        await fixture.close();
        await postgres.stop();
      },
    };
  },
);
