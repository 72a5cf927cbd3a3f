// Baseline (b) of the orchestration figures: Refit's own activity functions, made by createActivities
// with the same dependencies as the bench worker, called in the workflow's order in this process. They
// read Temporal's activity Context (heartbeats, cancellation), which exists only inside an activity, so
// each call runs in @temporalio/testing's MockActivityEnvironment: an in-memory Context, no server.
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import { buildModelInput } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { benchDependencies } from './dependencies.js';
import { nowMs } from './stats.js';
import type { BenchStack } from './stack.js';

/**
 * The steps of one BuildDeploy run (no notification configured), in the order the workflow takes them. The
 * metrics are read by buildModel when the build returns the condition's metric, and collectMetrics is then
 * no activity of its own (its share is 0); so is checkDeploymentCondition when the build decided a static
 * threshold with them.
 */
export const STEPS = ['claimWorkspace', 'cloneModelRepository', 'buildModel', 'collectMetrics', 'checkDeploymentCondition', 'deployBuild'] as const;
export type Step = (typeof STEPS)[number];

export interface DirectRun {
  buildId: string;
  totalMs: number;
  stepMs: Record<Step, number>;
  /** Epoch milliseconds (the wall clock) when the run was started, for latencies to a build's stamp. */
  startedAt: number;
}

export function directRunner(stack: BenchStack) {
  const activities = createActivities(
    benchDependencies({ home: stack.home, hostTaskQueue: 'direct@bench', python: stack.python, venvCacheDir: stack.venvCacheDir }),
  );
  const environment = new MockActivityEnvironment();

  return {
    /** One run of the same steps the workflow takes; `until` stops after that step (trigger latency needs only up to the build). */
    async run(automation: AutomationModel, until: Step = 'deployBuild'): Promise<DirectRun> {
      const { build_spec: buildSpec, deployment_condition: condition, deployment_spec: deploymentSpec } = automation.action;
      const buildId = `${automation.model_id}-direct-${randomUUID().replace(/-/g, '').slice(-12)}`;
      const stepMs = {} as Record<Step, number>;
      const startedAt = Date.now();
      const started = nowMs();
      const step = async <T>(name: Step, call: () => Promise<T>): Promise<T> => {
        const stepStarted = nowMs();
        const value = await environment.run<[], T, () => Promise<T>>(call);
        stepMs[name] = nowMs() - stepStarted;
        return value;
      };
      const finish = (): DirectRun => ({ buildId, stepMs, startedAt, totalMs: nowMs() - started });

      await step('claimWorkspace', () => activities.claimWorkspace({ buildId }));
      if (until === 'claimWorkspace') return finish();
      const clone = await step('cloneModelRepository', () =>
        activities.cloneModelRepository({ buildId, buildSpec, automation: automation.name, modelId: automation.model_id }),
      );
      if (until === 'cloneModelRepository') return finish();
      const built = await step('buildModel', () => activities.buildModel(buildModelInput(buildId, automation, clone.modelDir)));
      if (until === 'buildModel') return finish();
      // As in the workflow: a build that returns the condition's metric leaves its metrics step nothing to do.
      stepMs.collectMetrics = 0;
      const metrics =
        built.metrics ??
        (await step('collectMetrics', () => activities.collectMetrics({ buildId, metricsFile: built.metricsFile, metricName: condition?.metric_name })));
      if (until === 'collectMetrics') return finish();
      // Likewise a static threshold, decided by the build with its metrics.
      stepMs.checkDeploymentCondition = 0;
      const outcome =
        built.condition ??
        (await step('checkDeploymentCondition', () =>
          activities.checkDeploymentCondition({ condition, metrics, modelId: automation.model_id, variation: deploymentSpec.variation_name, environment: '' }),
        ));
      if (until === 'checkDeploymentCondition' || !outcome.passed) return finish();
      await step('deployBuild', () =>
        activities.deployBuild({
          automation: automation.name,
          modelId: automation.model_id,
          buildId,
          environment: '',
          spec: deploymentSpec,
          artifactDir: built.artifactDir,
          python: built.python,
          metrics,
        }),
      );
      return finish();
    },
  };
}
