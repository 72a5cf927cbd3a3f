// The activities that change or read what is served: deploy, canary steps, rollback, plan, scale status.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeploymentSummary } from '../shared/runTypes.js';
import { withHeartbeat } from './activityContext.js';
import type { CanaryTarget, DeploymentRequest } from '../shared/deployment.js';
import type { DeploymentResult, DeploymentTarget } from './deploy/deploymentTarget.js';
import type { ActivityDependencies } from './dependencies.js';
import type { EnvironmentScale } from '../shared/operations.js';

export function createDeployActivities(deps: ActivityDependencies) {
  return {
    async deployBuild(request: DeploymentRequest): Promise<DeploymentSummary> {
      return withHeartbeat(async (progress) => {
        const result = await deps.deploymentTarget.apply(request, {
          signal: Context.current().cancellationSignal,
          onProgress: (message) => progress({ step: 'deploy', message }),
        });
        return summarize(result);
      });
    },

    async startCanary(input: { request: DeploymentRequest; percent: number }): Promise<DeploymentSummary> {
      return withHeartbeat(async (progress) => {
        const result = await canaryCapable(deps.deploymentTarget).startCanary(input.request, input.percent, {
          signal: Context.current().cancellationSignal,
          onProgress: (message) => progress({ step: 'canary', message }),
        });
        return summarize(result);
      });
    },

    async setCanaryWeight(input: { target: CanaryTarget; percent: number }): Promise<void> {
      await withHeartbeat(() => canaryCapable(deps.deploymentTarget).setCanaryWeight(input.target, input.percent));
    },

    async promoteCanary(input: { target: CanaryTarget }): Promise<DeploymentSummary> {
      return withHeartbeat(async (progress) => {
        const result = await canaryCapable(deps.deploymentTarget).promoteCanary(input.target, {
          signal: Context.current().cancellationSignal,
          onProgress: (message) => progress({ step: 'promote', message }),
        });
        return summarize(result);
      });
    },

    async abortCanary(input: { target: CanaryTarget }): Promise<void> {
      await withHeartbeat(() => canaryCapable(deps.deploymentTarget).abortCanary(input.target));
    },

    async planDeployment(request: DeploymentRequest): Promise<string[]> {
      return deps.deploymentTarget.plan
        ? deps.deploymentTarget.plan(request)
        : [`deploy with the ${deps.deploymentTarget.name} target (it cannot say in advance what it would change)`];
    },

    /** How the model's variations autoscale in an environment now (`refit scale-status`). */
    async scaleStatus(input: { modelId: string; environment: string }): Promise<EnvironmentScale> {
      const target = deps.deploymentTarget;
      if (!target.scaleStatus) {
        const unsupported = `the ${target.name} target runs number_of_pods servers per variation and does not autoscale (auto_scale_config applies on Kubernetes)`;
        return { environment: input.environment, where: `the ${target.name} target`, unsupported, variations: [] };
      }
      return { environment: input.environment, ...(await target.scaleStatus(input.modelId, input.environment)) };
    },

    /** Stops serving a model's variation (or all of them) in an environment; says what it stopped. */
    async stopServing(input: { modelId: string; environment: string; variation?: string }): Promise<{ variation: string; buildId: string }[]> {
      return withHeartbeat(async () => {
        const status = await deps.deploymentTarget.status(input.modelId, input.environment);
        const serving = Object.entries(status?.variations ?? {})
          .filter(([variation]) => input.variation === undefined || variation === input.variation)
          .map(([variation, state]) => ({ variation, buildId: state.buildId }));
        if (serving.length) await deps.deploymentTarget.remove(input.modelId, input.environment, input.variation);
        return serving;
      });
    },

    /** What serves a model's variation in an environment now, and what it served before. */
    async servingBuilds(input: {
      modelId: string;
      environment: string;
      variation: string;
    }): Promise<{ buildId: string; previousBuildIds: string[] } | undefined> {
      const variation = (await deps.deploymentTarget.status(input.modelId, input.environment))?.variations[input.variation];
      return variation ? { buildId: variation.buildId, previousBuildIds: variation.previousBuildIds } : undefined;
    },

    /** Compensation: puts back the build that served before, or removes a variation that did not exist. */
    async rollbackDeployment(input: {
      modelId: string;
      environment: string;
      variation: string;
      previousBuildId?: string;
    }): Promise<DeploymentSummary | undefined> {
      return withHeartbeat(async () => {
        if (!input.previousBuildId) {
          await deps.deploymentTarget.remove(input.modelId, input.environment, input.variation);
          return undefined;
        }
        return summarize(
          await deps.deploymentTarget.rollback({
            modelId: input.modelId,
            environment: input.environment,
            variation: input.variation,
            buildId: input.previousBuildId,
          }),
        );
      });
    },
  };
}

/** The target's canary operations, or a clear failure when it has none. */
function canaryCapable(target: DeploymentTarget): Required<Pick<DeploymentTarget, 'startCanary' | 'setCanaryWeight' | 'promoteCanary' | 'abortCanary'>> {
  const { startCanary, setCanaryWeight, promoteCanary, abortCanary } = target;
  if (!startCanary || !setCanaryWeight || !promoteCanary || !abortCanary) {
    throw ApplicationFailure.nonRetryable(
      `the ${target.name} deployment target cannot run canary rollouts; remove rollout from the automation`,
      'RefitInvalidDefinition',
    );
  }
  return {
    startCanary: startCanary.bind(target),
    setCanaryWeight: setCanaryWeight.bind(target),
    promoteCanary: promoteCanary.bind(target),
    abortCanary: abortCanary.bind(target),
  };
}

function summarize(result: DeploymentResult): DeploymentSummary {
  return {
    environment: result.environment,
    variation: result.variation,
    build_id: result.buildId,
    previous_build_id: result.previousBuildId,
    url: result.url,
    changed: result.changed,
    notes: result.notes,
  };
}
