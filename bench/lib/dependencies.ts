// The activity dependencies every bench worker and every direct (no-Temporal) run uses: Refit's real
// secret store, metric source and build runner, with a deployment target that does nothing.
import path from 'node:path';
import type { ActivityDependencies } from '../../activities/index.js';
import { openAnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { DEFAULT_GIT_POLICY } from '../../activities/git/gitAccess.js';
import { LocalMetricSource } from '../../activities/metrics/metricSource.js';
import { DEFAULT_WEBHOOK_POLICY } from '../../activities/notify/sendNotification.js';
import { sandboxSettingsFromEnvironment } from '../../activities/process/sandbox.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { packageRoot } from '../../platform/paths.js';
import { DEFAULT_STEP_LIMITS } from '../../shared/stepLimits.js';
import { NoopDeploymentTarget } from './noopTarget.js';
import { LocalDeploymentTarget } from '../../activities/deploy/local/localTarget.js';

export interface BenchDependencyOptions {
  home: string;
  hostTaskQueue: string;
  python: string;
  venvCacheDir: string;
  /** noop (default): a target that only remembers; local: Refit's local target, real model servers. */
  deployTarget?: 'noop' | 'local';
}

export function benchDependencies(options: BenchDependencyOptions): ActivityDependencies {
  const secrets = new LocalSecretStore(path.join(options.home, 'secrets'));
  const sdkPythonPath = path.join(packageRoot(), 'sdk', 'python');
  const sandbox = sandboxSettingsFromEnvironment();
  return {
    refitHome: options.home,
    hostTaskQueue: options.hostTaskQueue,
    secrets,
    metricSource: new LocalMetricSource(),
    openAnalytics: () => openAnalyticsStore('duckdb::memory:', { refitHome: options.home }),
    deploymentTarget:
      options.deployTarget === 'local'
        ? new LocalDeploymentTarget({ deploymentsRoot: benchDeploymentsRoot(options.home), sdkPythonPath, secrets, sandbox, python: options.python })
        : new NoopDeploymentTarget(),
    python: options.python,
    venvCacheDir: options.venvCacheDir,
    sdkPythonPath,
    limits: { ...DEFAULT_STEP_LIMITS, buildMinutes: 10 },
    gitPolicy: DEFAULT_GIT_POLICY,
    webhookPolicy: DEFAULT_WEBHOOK_POLICY,
    sandbox,
  };
}

/** Where a bench worker's local target keeps its model servers' state (stopAllLocalServing stops them). */
export const benchDeploymentsRoot = (home: string) => path.join(home, 'deployments');
