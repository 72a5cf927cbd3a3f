// Every side effect of a BuildDeploy run. Each activity adapts a plain, separately tested function to
// Temporal: heartbeats with progress, cancellation, and RefitErrors turned into non-retryable failures.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { metricValue } from '../shared/metrics.js';
import { SearchAttributeKeys, WorkflowTypes } from '../shared/names.js';
import type { BuildOutput, CloneOutput, ConditionOutcome, WorkspaceClaim } from '../shared/runTypes.js';
import { parseThreshold } from '../spec/threshold.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import type { AnalyticsStore } from './analytics/analyticsStore.js';
import { runBuild } from './build/runBuild.js';
import { evaluateCondition, thresholdQueryFailure } from './condition/evaluateCondition.js';
import { evaluateGuard } from './condition/evaluateGuard.js';
import type { DeploymentTarget } from './deploy/deploymentTarget.js';
import { cloneRepository, remoteHead } from './git/cloneRepository.js';
import { allowedGitLocation, gitToken, type GitPolicy } from './git/gitAccess.js';
import { waitForMetric, type MetricSource } from './metrics/metricSource.js';
import { sendNotification, type Delivery, type RunEvent, type WebhookPolicy } from './notify/sendNotification.js';
import type { SecretStore } from './secrets/secretStore.js';
import { classified, withHeartbeat } from './activityContext.js';
import type { SandboxSettings } from './process/sandbox.js';
import { createDeployActivities } from './deployActivities.js';
import { describeThisProcess } from './workerInfo.js';

type Automation = AutomationModel;
type BuildSpec = Automation['action']['build_spec'];

/** What activities need from the outside world, passed in so tests hand over real, isolated parts. */
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
  timeouts: { buildMs: number; metricMs: number; queryMs: number };
  /** Which repositories definitions may clone (file://, plain http to other hosts). */
  gitPolicy: GitPolicy;
  /** Where webhooks may go (link-local and metadata addresses). */
  webhookPolicy: WebhookPolicy;
  /** How the code of model repositories is confined (builds, tests, installs, local model servers). */
  sandbox: SandboxSettings;
  cgroupRoot?: string;
}

export function createActivities(deps: ActivityDependencies) {
  const buildDirOf = (buildId: string) => path.join(deps.refitHome, 'builds', buildId);

  return {
    ...createDeployActivities(deps),

    async describeWorker() {
      return describeThisProcess();
    },

    /** The task queue of the worker that takes this: steps on files of this machine run there next. */
    async hostTaskQueue(): Promise<string> {
      return deps.hostTaskQueue;
    },

    async claimWorkspace(input: { buildId: string }): Promise<WorkspaceClaim> {
      const buildDir = buildDirOf(input.buildId);
      mkdirSync(buildDir, { recursive: true });
      return { hostTaskQueue: deps.hostTaskQueue, buildDir };
    },

    async cloneModelRepository(input: { buildId: string; buildSpec: BuildSpec; automation: string; modelId: string }): Promise<CloneOutput> {
      return classified(() => withHeartbeat(async (progress) => {
        const location = allowedGitLocation(input.buildSpec.git_uri, deps.gitPolicy);
        const secretName = input.buildSpec.git_access_token_secret;
        const token = await gitToken(deps.secrets, secretName, location, input);
        const result = await cloneRepository({
          repository: location.repository,
          subdirectory: location.subdirectory,
          branch: input.buildSpec.git_branch,
          token,
          tokenSecretName: secretName,
          destination: path.join(buildDirOf(input.buildId), 'src'),
          onProgress: (details) => progress({ step: 'clone', ...details }),
        });
        return { commit: result.commit, modelDir: result.modelDir };
      }));
    },

    async buildModel(input: { buildId: string; automation: string; modelId: string; modelDir: string; buildSpec: BuildSpec }): Promise<BuildOutput> {
      return classified(() => withHeartbeat(async (progress) => {
        const context = Context.current();
        const result = await runBuild({
          buildId: input.buildId,
          automation: input.automation,
          modelId: input.modelId,
          modelDir: input.modelDir,
          spec: input.buildSpec,
          buildDir: buildDirOf(input.buildId),
          sourceDir: path.join(buildDirOf(input.buildId), 'src'),
          sandbox: deps.sandbox,
          secrets: deps.secrets,
          metricSource: deps.metricSource,
          venvCacheDir: deps.venvCacheDir,
          python: deps.python,
          sdkPythonPath: deps.sdkPythonPath,
          timeoutMs: deps.timeouts.buildMs,
          signal: context.cancellationSignal,
          onProgress: progress,
          cgroupRoot: deps.cgroupRoot,
        });
        return {
          artifact_dir: result.artifactDir,
          metrics_file: result.metricsFile,
          python: path.join(result.environment.dir, 'bin', 'python'),
          log_file: result.logFile,
          duration_ms: result.durationMs,
          tests: result.tests,
          environment_reused: result.environment.reused,
          limits: result.limits,
          tags: result.tags,
        };
      }));
    },

    async collectMetrics(input: { buildId: string; metricsFile: string; metricName?: string }): Promise<Record<string, number>> {
      return classified(async () => {
        const build = { buildId: input.buildId, metricsFile: input.metricsFile };
        if (!input.metricName) return deps.metricSource.read(build);
        return waitForMetric({
          source: deps.metricSource,
          build,
          name: input.metricName,
          timeoutMs: deps.timeouts.metricMs,
          onPoll: (metrics) => Context.current().heartbeat({ step: 'metrics', seen: Object.keys(metrics) }),
        });
      });
    },

    async checkDeploymentCondition(input: {
      condition: Automation['action']['deployment_condition'];
      metrics: Record<string, number>;
      modelId: string;
      variation: string;
      environment: string;
    }): Promise<ConditionOutcome> {
      return classified(async () => {
        const serving = await deps.deploymentTarget.status(input.modelId, input.environment);
        const champion = serving?.variations[input.variation];
        return evaluateCondition({
          condition: input.condition,
          metrics: input.metrics,
          openAnalytics: deps.openAnalytics,
          champion: champion ? { buildId: champion.buildId, metrics: champion.metrics } : undefined,
          queryTimeoutMs: deps.timeouts.queryMs,
        });
      });
    },

    async evaluateRolloutGuard(input: { guard: NonNullable<Automation['action']['rollout']>['guard']; buildId: string; metrics: Record<string, number> }): Promise<ConditionOutcome> {
      return classified(() => evaluateGuard({ ...input, openAnalytics: deps.openAnalytics, queryTimeoutMs: deps.timeouts.queryMs }));
    },

    /** The commit a build would clone now (for `refit plan --run`). */
    async resolveCommit(input: { buildSpec: BuildSpec; automation: string; modelId: string }): Promise<string> {
      return classified(async () => {
        const location = allowedGitLocation(input.buildSpec.git_uri, deps.gitPolicy);
        const secretName = input.buildSpec.git_access_token_secret;
        return remoteHead({
          repository: location.repository,
          branch: input.buildSpec.git_branch,
          token: await gitToken(deps.secrets, secretName, location, input),
          tokenSecretName: secretName,
        });
      });
    },

    /** The threshold a run would compare with now, and where it comes from (for `refit plan --run`). */
    async planCondition(input: { condition: Automation['action']['deployment_condition']; modelId: string; variation: string; environment: string }): Promise<string> {
      return classified(async () => {
        const condition = input.condition;
        if (!condition) return 'deploy every successful build (no deployment condition)';
        const word = condition.direction === 'ABOVE' ? 'above' : 'below';
        if (condition.type === 'DeployedBuildMetric') {
          const serving = (await deps.deploymentTarget.status(input.modelId, input.environment))?.variations[input.variation];
          const value = metricValue(serving?.metrics, condition.metric_name);
          return serving && value !== undefined
            ? `deploy if ${condition.metric_name} is ${word} ${value}, the serving build ${serving.buildId}'s`
            : `deploy the build whatever its ${condition.metric_name}: no build with that metric serves yet`;
        }
        const threshold = parseThreshold(condition.threshold);
        if ('error' in threshold) throw new Error(threshold.error);
        if (threshold.kind === 'static') return `deploy if ${condition.metric_name} is ${word} ${threshold.value}`;
        const store = await deps.openAnalytics();
        try {
          const value = await store.queryNumber(threshold.query, { timeoutMs: deps.timeouts.queryMs });
          return `deploy if ${condition.metric_name} is ${word} ${value}, what the SQL threshold returns now on ${store.description}`;
        } catch (err) {
          throw thresholdQueryFailure(err, 'the dynamic threshold');
        } finally {
          await store.close();
        }
      });
    },

    /** The value of a metric trigger's SQL on the analytics store. */
    async evaluateMetricTrigger(input: { sqlQuery: string }): Promise<number> {
      return classified(async () => {
        const store = await deps.openAnalytics();
        try {
          return await store.queryNumber(input.sqlQuery, { timeoutMs: deps.timeouts.queryMs });
        } catch (err) {
          throw thresholdQueryFailure(err, 'the metric trigger\'s query');
        } finally {
          await store.close();
        }
      });
    },

    /** Builds of an automation that are running now (visibility is eventually consistent: a build started an instant ago may be missed). */
    async findRunningBuilds(input: { automation: string }): Promise<string[]> {
      const ids: string[] = [];
      const query = `WorkflowType = '${WorkflowTypes.buildDeploy}' AND ExecutionStatus = 'Running' AND ${SearchAttributeKeys.automation.name} = '${input.automation}'`;
      for await (const execution of Context.current().client.workflow.list({ query })) ids.push(execution.workflowId);
      return ids;
    },

    async sendRunNotification(input: { notification: NonNullable<Automation['on_error']>; event: Omit<RunEvent, 'run_url' | 'workflow_id'> }): Promise<Delivery> {
      return classified(async () => {
        const { workflowExecution, workflowNamespace } = Context.current().info;
        const workflowId = workflowExecution?.workflowId ?? '';
        const runUrl = deps.webUiUrl
          ? `${deps.webUiUrl}/namespaces/${workflowNamespace}/workflows/${encodeURIComponent(workflowId)}/${workflowExecution?.runId ?? ''}/history`
          : `temporal://${workflowNamespace}/${workflowId}`;
        return sendNotification(input.notification, { ...input.event, run_url: runUrl, workflow_id: workflowId }, deps.secrets, { policy: deps.webhookPolicy });
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
