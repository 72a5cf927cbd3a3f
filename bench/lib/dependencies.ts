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

export interface BenchDependencyOptions {
  home: string;
  hostTaskQueue: string;
  python: string;
  venvCacheDir: string;
}

export function benchDependencies(options: BenchDependencyOptions): ActivityDependencies {
  return {
    refitHome: options.home,
    hostTaskQueue: options.hostTaskQueue,
    secrets: new LocalSecretStore(path.join(options.home, 'secrets')),
    metricSource: new LocalMetricSource(),
    openAnalytics: () => openAnalyticsStore('duckdb::memory:', { refitHome: options.home }),
    deploymentTarget: new NoopDeploymentTarget(),
    python: options.python,
    venvCacheDir: options.venvCacheDir,
    sdkPythonPath: path.join(packageRoot(), 'sdk', 'python'),
    limits: { ...DEFAULT_STEP_LIMITS, buildMinutes: 10 },
    gitPolicy: DEFAULT_GIT_POLICY,
    webhookPolicy: DEFAULT_WEBHOOK_POLICY,
    sandbox: sandboxSettingsFromEnvironment(),
  };
}
