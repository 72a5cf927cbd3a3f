// Metrics the model code logged with MLflow's own client (mlflow.log_metric), read from an MLflow tracking
// server over its REST API. Each build gets one run, found again by its refit.build_id tag, so a retried
// build logs into the run it started and Refit reads the latest value of each metric from it.
import { z } from 'zod';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { setMetric } from '../../shared/metrics.js';
import type { MetricSource } from './metricSource.js';
import { MlflowApi, MlflowApiError, type MlflowConnectionOptions } from '../mlflow/mlflowApi.js';

export interface MlflowMetricSourceOptions extends MlflowConnectionOptions {
  /** The experiment that holds the builds' runs; created when missing. Default "refit". */
  experimentName?: string;
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

export class MlflowMetricSource implements MetricSource {
  howToLog(name: string): string {
    return `mlflow.log_metric("${name}", value) in the model's build`;
  }

  readonly description: string;
  readonly #api: MlflowApi;
  readonly #experimentName: string;
  #experimentId: string | undefined;

  constructor(options: MlflowMetricSourceOptions) {
    this.#experimentName = options.experimentName ?? 'refit';
    this.#api = new MlflowApi(options, ErrorTypes.MetricSourceRejected, `grant it access to experiment "${this.#experimentName}"`);
    this.description = `MLflow tracking server ${this.#api.baseUrl} (experiment "${this.#experimentName}", runs tagged ${BUILD_ID_TAG})`;
  }

  /** Creates (or, for a retried build, finds) the build's run and returns the variables that make mlflow.log_metric log into it. */
  async prepareBuild(build: { buildId: string; modelId: string }): Promise<Record<string, string>> {
    const experimentId = (await this.#findExperiment()) ?? (await this.#createExperiment());
    const run = (await this.#findRun(experimentId, build.buildId)) ?? (await this.#createRun(experimentId, build));
    return {
      MLFLOW_TRACKING_URI: this.#api.baseUrl,
      MLFLOW_EXPERIMENT_ID: experimentId,
      MLFLOW_RUN_ID: run.info.run_id,
      ...this.#api.credentialEnv,
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

  /** The MLflow run of a build, if it has one (the model registry links its versions to it). */
  async runIdOf(buildId: string): Promise<string | undefined> {
    const experimentId = await this.#findExperiment();
    return experimentId ? (await this.#findRun(experimentId, buildId))?.info.run_id : undefined;
  }

  async #findExperiment(): Promise<string | undefined> {
    if (this.#experimentId) return this.#experimentId;
    const query = new URLSearchParams({ experiment_name: this.#experimentName });
    let answer: z.infer<typeof GetExperimentAnswer>;
    try {
      answer = await this.#api.call('GET', `experiments/get-by-name?${query}`, undefined, GetExperimentAnswer);
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
    if (answer.experiment.lifecycle_stage === 'deleted') {
      throw new RefitError(
        ErrorTypes.MetricSourceRejected,
        `the MLflow experiment "${this.#experimentName}" on ${this.#api.baseUrl} is deleted, so builds cannot log into it: ` +
          `restore it (mlflow experiments restore --experiment-id ${answer.experiment.experiment_id}) or configure another experiment name`,
      );
    }
    this.#experimentId = answer.experiment.experiment_id;
    return this.#experimentId;
  }

  async #createExperiment(): Promise<string> {
    try {
      const answer = await this.#api.call('POST', 'experiments/create', { name: this.#experimentName }, CreateExperimentAnswer);
      this.#experimentId = answer.experiment_id;
      return answer.experiment_id;
    } catch (err) {
      // Another worker created it a moment ago: use theirs.
      if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
      const existing = await this.#findExperiment();
      if (!existing)
        throw new Error(`the MLflow tracking server at ${this.#api.baseUrl} says experiment "${this.#experimentName}" exists, yet cannot find it by name`, {
          cause: err,
        });
      return existing;
    }
  }

  /** The build's run: the oldest active run with its tag, so every caller settles on the same one. */
  async #findRun(experimentId: string, buildId: string): Promise<Run | undefined> {
    // MLflow's filter language has no escape for a quote inside a value; Refit's build ids never hold one.
    if (/['"\\]/.test(buildId)) throw new Error(`build id ${JSON.stringify(buildId)} holds a quote or backslash, which an MLflow search filter cannot express`);
    const answer = await this.#api.call(
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
    const answer = await this.#api.call(
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
}
