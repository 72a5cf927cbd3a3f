import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect, promisify } from 'node:util';
import { MlflowMetricSource } from '../../activities/metrics/mlflowMetricSource.js';
import { baseEnvironment } from '../../activities/process/baseEnvironment.js';
import { freePort } from '../../platform/freePort.js';
import { RefitError } from '../../shared/errors.js';
import { startMlflow, type TestMlflow } from '../harness/mlflow.js';

const run = promisify(execFile);
// A fresh machine installs MLflow first (scripts/install-mlflow.sh): a minute or two.
const SERVER_SETUP_MS = 300_000;

/** Model code as users write it: MLflow's own client, configured only by the build's environment. */
async function runModelCode(server: TestMlflow, buildEnv: Record<string, string>, script: string): Promise<void> {
  // The same environment runBuild gives the build step: what the worker passes on, plus prepareBuild's variables.
  const env = { ...baseEnvironment(), PYTHONDONTWRITEBYTECODE: '1', ...buildEnv };
  try {
    await run(server.python, ['-c', script], { env, timeout: 90_000 });
  } catch (err) {
    throw new Error(`the model code failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
}

/** The runs tagged with a build id, straight from the REST API, to check what prepareBuild left. */
async function runsOf(server: TestMlflow, experimentId: string, buildId: string, authorization?: string) {
  const response = await fetch(`${server.trackingUri}/api/2.0/mlflow/runs/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ experiment_ids: [experimentId], filter: `tags.\`refit.build_id\` = '${buildId}'` }),
  });
  const body = (await response.json()) as { runs?: { info: { run_id: string }; data: { tags: { key: string; value: string }[] } }[] };
  return (body.runs ?? []).map((found) => ({ runId: found.info.run_id, tags: Object.fromEntries(found.data.tags.map((tag) => [tag.key, tag.value])) }));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Neither the message nor anything attached to the error (cause, fields) may show a secret. */
function expectNoSecret(error: Error, ...secrets: string[]): void {
  const everything = `${error.message}\n${inspect(error, { depth: 6 })}\n${JSON.stringify(error)}`;
  for (const secret of secrets) {
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(encodeURIComponent(secret));
  }
}

const buildIdFor = (label: string) => `churn-${label}-${randomBytes(4).toString('hex')}`;

describe('MLflow metric source on a real tracking server', () => {
  let server: TestMlflow;
  beforeAll(async () => {
    server = await startMlflow();
  }, SERVER_SETUP_MS);
  afterAll(async () => {
    await server?.stop();
  });

  it('prepareBuild creates one run tagged with the build, and a second call for the same build reuses it', async () => {
    const buildId = buildIdFor('prepare');
    const env = await new MlflowMetricSource({ trackingUri: server.trackingUri }).prepareBuild({ buildId, modelId: 'churn' });

    expect(Object.keys(env).sort()).toEqual(['MLFLOW_EXPERIMENT_ID', 'MLFLOW_RUN_ID', 'MLFLOW_TRACKING_URI']);
    expect(env.MLFLOW_TRACKING_URI).toBe(server.trackingUri);
    // A retried build runs on a fresh source (another attempt, maybe another worker): it must still find the run.
    const retried = await new MlflowMetricSource({ trackingUri: server.trackingUri }).prepareBuild({ buildId, modelId: 'churn' });
    expect(retried).toEqual(env);
    const runs = await runsOf(server, env.MLFLOW_EXPERIMENT_ID!, buildId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ runId: env.MLFLOW_RUN_ID, tags: { 'refit.build_id': buildId, 'refit.model_id': 'churn' } });
  });

  it("reads what mlflow.log_metric and mlflow.log_metrics logged with only prepareBuild's variables, the latest value winning", async () => {
    const source = new MlflowMetricSource({ trackingUri: server.trackingUri });
    const buildId = buildIdFor('logged');
    const firstAttempt = await source.prepareBuild({ buildId, modelId: 'churn' });
    await runModelCode(server, firstAttempt, 'import mlflow\nmlflow.log_metric("f1_score", 0.5)\n');
    expect(await source.read({ buildId })).toEqual({ f1_score: 0.5 });

    // The build is retried: it logs into the same run, and the newer value is the one that counts.
    const secondAttempt = await source.prepareBuild({ buildId, modelId: 'churn' });
    expect(secondAttempt.MLFLOW_RUN_ID).toBe(firstAttempt.MLFLOW_RUN_ID);
    await runModelCode(
      server,
      secondAttempt,
      [
        'import math, time, mlflow',
        'mlflow.log_metric("f1_score", 0.91)',
        'mlflow.log_metrics({"recall": 0.875, "precision": 0.8, "epochs": 12})',
        // MLflow accepts NaN; Refit, like its metrics file, counts finite numbers only.
        'mlflow.log_metric("loss", math.nan)',
      ].join('\n'),
    );

    expect(await source.read({ buildId })).toEqual({ f1_score: 0.91, recall: 0.875, precision: 0.8, epochs: 12 });
    expect(await new MlflowMetricSource({ trackingUri: server.trackingUri }).read({ buildId })).toEqual({
      f1_score: 0.91,
      recall: 0.875,
      precision: 0.8,
      epochs: 12,
    });
  });

  it('reads {} for a build that logged nothing, one it never prepared, and an experiment that does not exist yet', async () => {
    const source = new MlflowMetricSource({ trackingUri: server.trackingUri });
    const quiet = buildIdFor('quiet');
    await source.prepareBuild({ buildId: quiet, modelId: 'churn' });
    expect(await source.read({ buildId: quiet })).toEqual({});
    expect(await source.read({ buildId: buildIdFor('never') })).toEqual({});
    expect(await new MlflowMetricSource({ trackingUri: server.trackingUri, experimentName: 'refit-not-yet' }).read({ buildId: quiet })).toEqual({});
  });

  it('keeps builds of different experiments apart', async () => {
    const buildId = buildIdFor('apart');
    const churn = new MlflowMetricSource({ trackingUri: server.trackingUri, experimentName: 'refit-churn' });
    const env = await churn.prepareBuild({ buildId, modelId: 'churn' });
    await runModelCode(server, env, 'import mlflow\nmlflow.log_metric("auc", 0.7)\n');
    expect(await churn.read({ buildId })).toEqual({ auc: 0.7 });
    expect(await new MlflowMetricSource({ trackingUri: server.trackingUri }).read({ buildId })).toEqual({});
  });

  it('says how to fix a deleted experiment instead of logging into it', async () => {
    const name = 'refit-deleted';
    const env = await new MlflowMetricSource({ trackingUri: server.trackingUri, experimentName: name }).prepareBuild({
      buildId: buildIdFor('deleted'),
      modelId: 'churn',
    });
    await fetch(`${server.trackingUri}/api/2.0/mlflow/experiments/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_id: env.MLFLOW_EXPERIMENT_ID }),
    });
    const error = await rejection(
      new MlflowMetricSource({ trackingUri: server.trackingUri, experimentName: name }).prepareBuild({ buildId: buildIdFor('deleted'), modelId: 'churn' }),
    );
    expect(error.message).toContain(`experiment "${name}" on ${server.trackingUri} is deleted`);
    expect(error.message).toContain(`mlflow experiments restore --experiment-id ${env.MLFLOW_EXPERIMENT_ID}`);
  });

  it('says the address is wrong when it has no MLflow REST API under it', async () => {
    const error = await rejection(new MlflowMetricSource({ trackingUri: `${server.trackingUri}/not-mlflow` }).read({ buildId: buildIdFor('wrong-path') }));
    expect(error.message).toContain(`the MLflow tracking server at ${server.trackingUri}/not-mlflow`);
    expect(error.message).toMatch(/HTTP 404|malformed answer/);
    expect(error.message).toContain('base address');
  });
});

describe("MLflow metric source with credentials, on a real server with MLflow's basic-auth app", () => {
  const username = 'refit-bot';
  // "@", "/" and ":" must survive URL encoding and the Basic header; MLflow's ini file forbids "%".
  const password = `pw-${randomBytes(9).toString('hex')}@/:x`;
  let server: TestMlflow;
  beforeAll(async () => {
    server = await startMlflow({ basicAuth: { username, password } });
  }, SERVER_SETUP_MS);
  afterAll(async () => {
    await server?.stop();
  });

  it('logs in with username and password, and hands them to the build so mlflow.log_metric can too', async () => {
    const source = new MlflowMetricSource({ trackingUri: server.trackingUri, username, password });
    const buildId = buildIdFor('auth');
    const env = await source.prepareBuild({ buildId, modelId: 'churn' });
    expect(env).toMatchObject({ MLFLOW_TRACKING_URI: server.trackingUri, MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password });
    await runModelCode(server, env, 'import mlflow\nmlflow.log_metrics({"f1_score": 0.88, "recall": 0.9})\n');
    expect(await source.read({ buildId })).toEqual({ f1_score: 0.88, recall: 0.9 });
    expectNoSecret(new Error(source.description), password);
  });

  it('takes the credentials from the address too, and shows it without them', async () => {
    const address = server.trackingUri.replace('http://', `http://${encodeURIComponent(username)}:${encodeURIComponent(password)}@`);
    const source = new MlflowMetricSource({ trackingUri: address });
    const env = await source.prepareBuild({ buildId: buildIdFor('in-uri'), modelId: 'churn' });
    expect(env.MLFLOW_TRACKING_URI).toBe(server.trackingUri);
    expect(env.MLFLOW_TRACKING_PASSWORD).toBe(password);
    expect(source.description).toContain(server.trackingUri);
    expectNoSecret(new Error(source.description), password);
  });

  it('asks for credentials when none are given', async () => {
    const error = await rejection(new MlflowMetricSource({ trackingUri: server.trackingUri }).read({ buildId: buildIdFor('anonymous') }));
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN');
  });

  it('gives a wrong password or token as rejected credentials, never showing them', async () => {
    const wrongPassword = `not-${password}`;
    const byPassword = await rejection(
      new MlflowMetricSource({ trackingUri: server.trackingUri, username, password: wrongPassword }).prepareBuild({
        buildId: buildIdFor('wrong'),
        modelId: 'churn',
      }),
    );
    expect(byPassword.message).toContain('HTTP 401');
    expect(byPassword.message).toContain('rejected the credentials');
    expectNoSecret(byPassword, wrongPassword, Buffer.from(`${username}:${wrongPassword}`).toString('base64'));

    const token = `tok-${randomBytes(12).toString('hex')}`;
    const byToken = await rejection(new MlflowMetricSource({ trackingUri: server.trackingUri, token }).read({ buildId: buildIdFor('token') }));
    expect(byToken.message).toContain('rejected the credentials');
    expectNoSecret(byToken, token);
  });
});

describe('MLflow metric source when the server cannot be used', () => {
  it('gives an unreachable server as a plain (retryable) Error naming the address without credentials', async () => {
    const port = await freePort();
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const token = `tok-${randomBytes(8).toString('hex')}`;
    for (const source of [
      new MlflowMetricSource({ trackingUri: `http://someone:${password}@127.0.0.1:${port}` }),
      new MlflowMetricSource({ trackingUri: `http://127.0.0.1:${port}/`, token }),
    ]) {
      for (const attempt of [source.read({ buildId: 'churn-1' }), source.prepareBuild({ buildId: 'churn-1', modelId: 'churn' })]) {
        const error = await rejection(attempt);
        expect(error.constructor).toBe(Error);
        expect(error).not.toBeInstanceOf(RefitError);
        expect(error.message).toContain(`cannot reach the MLflow tracking server at http://127.0.0.1:${port}`);
        expect(error.message).toContain('ECONNREFUSED');
        expectNoSecret(error, password, token, 'someone');
      }
    }
  });

  it("gives an answer that is not MLflow's as malformed, quoting it", async () => {
    // What a login proxy or a wrong address tends to answer: a page, with 200.
    const page = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>Please sign in</body></html>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    try {
      const address = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
      const error = await rejection(new MlflowMetricSource({ trackingUri: address }).read({ buildId: 'churn-1' }));
      expect(error.message).toContain(`the MLflow tracking server at ${address} gave a malformed answer to GET /api/2.0/mlflow/experiments/get-by-name`);
      expect(error.message).toContain('Please sign in');
    } finally {
      await new Promise((resolve) => page.close(resolve));
    }
  });

  it('refuses an address that is not http(s), and half a set of credentials, saying what to set', () => {
    expect(() => new MlflowMetricSource({ trackingUri: 'sqlite:///mlflow.db' })).toThrow('is not an http(s) address');
    expect(() => new MlflowMetricSource({ trackingUri: 'mlflow.internal:5000' })).toThrow('is not an http(s) address');
    expect(() => new MlflowMetricSource({ trackingUri: 'not a url at all' })).toThrow('is not a URL');
    expect(() => new MlflowMetricSource({ trackingUri: 'http://127.0.0.1:5000', username: 'refit' })).toThrow(
      'set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
    );
  });
});
