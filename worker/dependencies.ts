import os from 'node:os';
import path from 'node:path';
import type { ActivityDependencies } from '../activities/index.js';
import { openAnalyticsStore } from '../activities/analytics/analyticsStore.js';
import { LocalDeploymentTarget } from '../activities/deploy/local/localTarget.js';
import { LocalMetricSource, type MetricSource } from '../activities/metrics/metricSource.js';
import { MlflowMetricSource } from '../activities/metrics/mlflowMetricSource.js';
import { LocalSecretStore } from '../activities/secrets/localSecretStore.js';
import { packageRoot, refitHome } from '../devstack/paths.js';

/** The task queue only this worker polls: a build's files live on the machine that built it. */
export function hostTaskQueueOf(taskQueue: string): string {
  return `${taskQueue}@${process.env.REFIT_WORKER_ID ?? os.hostname()}`;
}

const minutes = (name: string, fallback: number) => Number(process.env[name] ?? fallback) * 60_000;

/**
 * The embedded defaults, configured from the environment: everything under $REFIT_HOME (secrets,
 * builds, cached environments, deployments), model analytics at REFIT_ANALYTICS_URL (DuckDB by default).
 */
export function defaultDependencies(options: { taskQueue: string; home?: string; webUiUrl?: string }): ActivityDependencies {
  const home = options.home ?? refitHome();
  const secrets = new LocalSecretStore(path.join(home, 'secrets'));
  const sdkPythonPath = path.join(packageRoot(), 'sdk', 'python');
  return {
    refitHome: home,
    hostTaskQueue: hostTaskQueueOf(options.taskQueue),
    secrets,
    metricSource: metricSourceFromEnvironment(),
    openAnalytics: () => openAnalyticsStore(process.env.REFIT_ANALYTICS_URL, { refitHome: home }),
    deploymentTarget: new LocalDeploymentTarget({ deploymentsRoot: path.join(home, 'deployments'), sdkPythonPath, secrets }),
    python: process.env.REFIT_PYTHON ?? 'python3',
    // Environments depend only on the dependency file, so several Refit homes may share them.
    venvCacheDir: process.env.REFIT_VENV_CACHE ?? path.join(home, 'venvs'),
    sdkPythonPath,
    webUiUrl: options.webUiUrl ?? process.env.REFIT_WEB_UI_URL,
    timeouts: {
      buildMs: minutes('REFIT_BUILD_TIMEOUT_MINUTES', 120),
      metricMs: minutes('REFIT_METRIC_WAIT_MINUTES', 1),
      queryMs: minutes('REFIT_QUERY_TIMEOUT_MINUTES', 1),
    },
  };
}

/**
 * Metrics come from refit_sdk.log_metric unless REFIT_MLFLOW_TRACKING_URI names an MLflow tracking
 * server; then model code that calls mlflow.log_metric works unchanged (credentials from the usual
 * MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN).
 */
function metricSourceFromEnvironment(): MetricSource {
  const trackingUri = process.env.REFIT_MLFLOW_TRACKING_URI;
  if (!trackingUri) return new LocalMetricSource();
  return new MlflowMetricSource({
    trackingUri,
    experimentName: process.env.REFIT_MLFLOW_EXPERIMENT,
    username: process.env.MLFLOW_TRACKING_USERNAME,
    password: process.env.MLFLOW_TRACKING_PASSWORD,
    token: process.env.MLFLOW_TRACKING_TOKEN,
  });
}
