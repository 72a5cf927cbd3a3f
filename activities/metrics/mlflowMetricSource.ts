// Metrics the model code logged with MLflow's own client (mlflow.log_metric), read from an MLflow tracking
// server over its REST API. Each build gets one run, found again by its refit.build_id tag, so a retried
// build logs into the run it started and Refit reads the latest value of each metric from it.
import { z } from 'zod';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { setMetric } from '../../shared/metrics.js';
import type { MetricSource } from './metricSource.js';

export interface MlflowMetricSourceOptions {
  /** The tracking server's address, as MLFLOW_TRACKING_URI gives it to MLflow's client (http or https). */
  trackingUri: string;
  /** The experiment that holds the builds' runs; created when missing. Default "refit". */
  experimentName?: string;
  /** MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD: HTTP basic auth. */
  username?: string;
  password?: string;
  /** MLFLOW_TRACKING_TOKEN: a bearer token, used when no username and password are given (as MLflow's client does). */
  token?: string;
  /** How long one request may take before it counts as a failure to answer. Default 30 s. */
  requestTimeoutMs?: number;
}

export const BUILD_ID_TAG = 'refit.build_id';
export const MODEL_ID_TAG = 'refit.model_id';

const Metric = z.object({ key: z.string(), value: z.union([z.number(), z.string()]) });
const Run = z.object({
  info: z.object({ run_id: z.string().min(1) }),
  data: z.object({ metrics: z.array(Metric).optional() }).optional(),
});
type Run = z.infer<typeof Run>;
const Experiment = z.object({ experiment_id: z.string().min(1), lifecycle_stage: z.string().optional() });
const GetExperimentAnswer = z.object({ experiment: Experiment });
const CreateExperimentAnswer = z.object({ experiment_id: z.string().min(1) });
const SearchRunsAnswer = z.object({ runs: z.array(Run).optional() });
const CreateRunAnswer = z.object({ run: Run });
const ErrorAnswer = z.object({ error_code: z.string().optional(), message: z.string().optional() });

/** An error answer from the tracking server, kept apart so callers can act on MLflow's error code. */
class MlflowApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }
}

export class MlflowMetricSource implements MetricSource {
  howToLog(name: string): string {
    return `mlflow.log_metric("${name}", value) in the model's build`;
  }

  readonly description: string;
  /** The server's address without user:password or query, so messages may show it. */
  readonly #baseUrl: string;
  readonly #experimentName: string;
  readonly #authorization: string | undefined;
  /** What MLflow's client in the build needs to log in the way Refit does. */
  readonly #credentialEnv: Record<string, string>;
  readonly #timeoutMs: number;
  #experimentId: string | undefined;

  constructor(options: MlflowMetricSourceOptions) {
    let url: URL;
    try {
      url = new URL(options.trackingUri);
    } catch {
      throw new Error(
        `MLflow trackingUri "${withoutUserInfo(options.trackingUri)}" is not a URL: give the tracking server's address, e.g. http://mlflow.internal:5000`,
      );
    }
    // Credentials in the address work like MLFLOW_TRACKING_USERNAME/PASSWORD; explicit options win.
    const username = options.username ?? (url.username ? decoded(url.username) : undefined);
    const password = options.password ?? (url.password ? decoded(url.password) : undefined);
    url.username = '';
    url.password = '';
    // Neither shown nor sent: MLflow's API takes no query string, and one could hold a key.
    url.search = '';
    url.hash = '';
    this.#baseUrl = url.href.replace(/\/+$/, '');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(
        `MLflow trackingUri "${this.#baseUrl}" is not an http(s) address: Refit reads metrics from a tracking server, e.g. http://mlflow.internal:5000`,
      );
    }
    if (Boolean(username) !== Boolean(password)) {
      throw new Error(
        `MLflow ${username ? 'username is set without a password' : 'password is set without a username'}: set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or use MLFLOW_TRACKING_TOKEN`,
      );
    }
    this.#experimentName = options.experimentName ?? 'refit';
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (username && password) {
      this.#authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      this.#credentialEnv = { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password };
    } else if (options.token) {
      this.#authorization = `Bearer ${options.token}`;
      this.#credentialEnv = { MLFLOW_TRACKING_TOKEN: options.token };
    } else {
      this.#credentialEnv = {};
    }
    this.description = `MLflow tracking server ${this.#baseUrl} (experiment "${this.#experimentName}", runs tagged ${BUILD_ID_TAG})`;
  }

  /** Creates (or, for a retried build, finds) the build's run and returns the variables that make mlflow.log_metric log into it. */
  async prepareBuild(build: { buildId: string; modelId: string }): Promise<Record<string, string>> {
    const experimentId = (await this.#findExperiment()) ?? (await this.#createExperiment());
    const run = (await this.#findRun(experimentId, build.buildId)) ?? (await this.#createRun(experimentId, build));
    return {
      MLFLOW_TRACKING_URI: this.#baseUrl,
      MLFLOW_EXPERIMENT_ID: experimentId,
      MLFLOW_RUN_ID: run.info.run_id,
      ...this.#credentialEnv,
    };
  }

  async read(build: { buildId: string }): Promise<Record<string, number>> {
    const experimentId = await this.#findExperiment();
    const run = experimentId ? await this.#findRun(experimentId, build.buildId) : undefined;
    const metrics: Record<string, number> = {};
    // The server keeps each metric's latest value (highest step, then newest timestamp) on the run itself.
    // NaN arrives as the string "NaN": like the metrics file, Refit counts finite numbers only.
    for (const metric of run?.data?.metrics ?? []) {
      if (typeof metric.value === 'number' && Number.isFinite(metric.value)) setMetric(metrics, metric.key, metric.value);
    }
    return metrics;
  }

  async #findExperiment(): Promise<string | undefined> {
    if (this.#experimentId) return this.#experimentId;
    const query = new URLSearchParams({ experiment_name: this.#experimentName });
    let answer: z.infer<typeof GetExperimentAnswer>;
    try {
      answer = await this.#call('GET', `experiments/get-by-name?${query}`, undefined, GetExperimentAnswer);
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
    if (answer.experiment.lifecycle_stage === 'deleted') {
      throw new RefitError(
        ErrorTypes.MetricSourceRejected,
        `the MLflow experiment "${this.#experimentName}" on ${this.#baseUrl} is deleted, so builds cannot log into it: ` +
          `restore it (mlflow experiments restore --experiment-id ${answer.experiment.experiment_id}) or configure another experiment name`,
      );
    }
    this.#experimentId = answer.experiment.experiment_id;
    return this.#experimentId;
  }

  async #createExperiment(): Promise<string> {
    try {
      const answer = await this.#call('POST', 'experiments/create', { name: this.#experimentName }, CreateExperimentAnswer);
      this.#experimentId = answer.experiment_id;
      return answer.experiment_id;
    } catch (err) {
      // Another worker created it a moment ago: use theirs.
      if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
      const existing = await this.#findExperiment();
      if (!existing)
        throw new Error(`the MLflow tracking server at ${this.#baseUrl} says experiment "${this.#experimentName}" exists, yet cannot find it by name`, {
          cause: err,
        });
      return existing;
    }
  }

  /** The build's run: the oldest active run with its tag, so every caller settles on the same one. */
  async #findRun(experimentId: string, buildId: string): Promise<Run | undefined> {
    // MLflow's filter language has no escape for a quote inside a value; Refit's build ids never hold one.
    if (/['"\\]/.test(buildId)) throw new Error(`build id ${JSON.stringify(buildId)} holds a quote or backslash, which an MLflow search filter cannot express`);
    const answer = await this.#call(
      'POST',
      'runs/search',
      {
        experiment_ids: [experimentId],
        filter: `tags.\`${BUILD_ID_TAG}\` = '${buildId}'`,
        run_view_type: 'ACTIVE_ONLY',
        order_by: ['attributes.start_time ASC'],
        max_results: 1,
      },
      SearchRunsAnswer,
    );
    return answer.runs?.[0];
  }

  async #createRun(experimentId: string, build: { buildId: string; modelId: string }): Promise<Run> {
    const answer = await this.#call(
      'POST',
      'runs/create',
      {
        experiment_id: experimentId,
        run_name: `refit build ${build.buildId}`,
        start_time: Date.now(),
        tags: [
          { key: BUILD_ID_TAG, value: build.buildId },
          { key: MODEL_ID_TAG, value: build.modelId },
        ],
      },
      CreateRunAnswer,
    );
    return answer.run;
  }

  async #call<T>(method: 'GET' | 'POST', endpoint: string, payload: unknown, schema: z.ZodType<T>): Promise<T> {
    const what = `${method} /api/2.0/mlflow/${endpoint.split('?')[0]}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.#baseUrl}/api/2.0/mlflow/${endpoint}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#authorization ? { authorization: this.#authorization } : {}),
        },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      // Transient as far as Refit can tell: a plain Error, so the activity is retried.
      throw new Error(
        `cannot reach the MLflow tracking server at ${this.#baseUrl} (${what}: ${networkReason(err, this.#timeoutMs)}): check that it is running and that the tracking URI is right`,
        { cause: err },
      );
    }
    const json = parseJson(text);
    if (!response.ok) {
      const error = this.#apiError(response.status, what, json, text);
      // Refused credentials or permissions do not heal by retrying: fail the run at once.
      if (response.status === 401 || response.status === 403) throw new RefitError(ErrorTypes.MetricSourceRejected, error.message);
      throw error;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const detail =
        json === undefined
          ? `not JSON: ${excerpt(text)}`
          : `JSON without the expected ${issue?.path.join('.') || 'shape'} (${issue?.message}): ${excerpt(text)}`;
      throw new Error(
        `the MLflow tracking server at ${this.#baseUrl} gave a malformed answer to ${what}, ${detail}; is the tracking URI the server's base address (not a UI or proxy page)?`,
      );
    }
    return parsed.data;
  }

  #apiError(status: number, what: string, json: unknown, text: string): MlflowApiError {
    const answer = ErrorAnswer.safeParse(json);
    const errorCode = answer.success ? answer.data.error_code : undefined;
    // A page (a proxy's, or a web server's 404) says nothing useful in a line: name it instead of quoting it.
    const said = answer.success && answer.data.message ? excerpt(answer.data.message) : /^\s*</.test(text) ? "an HTML page, not MLflow's JSON" : excerpt(text);
    const hint =
      status === 401
        ? this.#authorization
          ? 'it rejected the credentials Refit was given: check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN'
          : 'it needs credentials: give Refit MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN'
        : status === 403
          ? `the account Refit uses may not do this: grant it access to experiment "${this.#experimentName}"`
          : status === 404 && !errorCode
            ? "no MLflow REST API there: is the tracking URI the server's base address?"
            : undefined;
    return new MlflowApiError(
      `the MLflow tracking server at ${this.#baseUrl} answered ${what} with HTTP ${status}${errorCode ? ` ${errorCode}` : ''} (${said})${hint ? `; ${hint}` : ''}`,
      status,
      errorCode,
    );
  }
}

/** The address without any user:password in it, for messages about an address that does not parse. */
function withoutUserInfo(uri: string): string {
  return uri.replace(/^([a-z][\w+.-]*:\/\/)[^/?#]*@/i, '$1');
}

/** Userinfo as the URL holds it, percent-encoded; a stray "%" stays as it is rather than failing. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function excerpt(text: string, length = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat || '(empty)';
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is in its cause. */
function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
