// What activities need from the outside world, passed in (createActivities(deps)) so that tests hand over
// real, isolated parts and the worker its configured ones.
import type { StepLimits } from '../shared/stepLimits.js';
import type { AnalyticsStore } from './analytics/analyticsStore.js';
import type { ClusterBuildRunner } from './build/kubernetes/clusterBuildSteps.js';
import type { ImagePublishing } from './build/modelImage.js';
import type { DeploymentTarget } from './deploy/deploymentTarget.js';
import type { GitPolicy } from './git/gitAccess.js';
import type { MetricSource } from './metrics/metricSource.js';
import type { WebhookPolicy } from './notify/webhookRequest.js';
import type { SandboxSettings } from './process/sandbox.js';
import type { SecretStore } from './secrets/secretStore.js';
import type { Slots } from './process/slots.js';

export interface ActivityDependencies {
  refitHome: string;
  /** This worker's own task queue: steps that use a build's files run on the worker that has them. */
  hostTaskQueue: string;
  secrets: SecretStore;
  metricSource: MetricSource;
  openAnalytics: () => Promise<AnalyticsStore>;
  deploymentTarget: DeploymentTarget;
  /** Interpreter the model environments are made from. */
  python: string;
  /** Where the cached virtual environments of models live ($REFIT_HOME/venvs). */
  venvCacheDir: string;
  /** Folder holding the refit_sdk Python package. */
  sdkPythonPath: string;
  /** Base URL of the Temporal Web UI, for links in notifications. */
  webUiUrl?: string;
  /** This worker's time limits, which it hands to the runs whose workspace it claims. */
  limits: StepLimits;
  /** Which repositories definitions may clone (file://, plain http to other hosts). */
  gitPolicy: GitPolicy;
  /** Where webhooks may go (link-local and metadata addresses). */
  webhookPolicy: WebhookPolicy;
  /** How the code of model repositories is confined (builds, tests, installs, local model servers). */
  sandbox: SandboxSettings;
  cgroupRoot?: string;
  /** Set when deploys run images (the Kubernetes target): a finished build is pushed as `<repository>/<model>:<build>`. */
  imagePublishing?: ImagePublishing;
  /** Where builds run: on this worker (absent, or local) or as Jobs on the cluster. */
  buildRunner?: { kind: 'local' } | ClusterBuildRunner;
  /** How many local builds and clones run at once (absent: no limit beyond the worker's activity slots). */
  slots?: { builds: Slots; clones: Slots };
}

export const minutes = (value: number) => value * 60_000;
