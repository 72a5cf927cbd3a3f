// The steps that decide: the deployment condition, a canary's guard, a metric trigger, and what a plan
// says the condition would compare with. Each may run a query, so each heartbeats while it waits.
import type { ConditionOutcome } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { withHeartbeat } from '../activityContext.js';
import { sqlValue } from '../analytics/sqlValue.js';
import { describeCondition, evaluateCondition, type ServingChampion } from '../condition/evaluateCondition.js';
import { evaluateGuard } from '../condition/evaluateGuard.js';
import { minutes, type ActivityDependencies } from '../dependencies.js';

type Automation = AutomationModel;
type Condition = Automation['action']['deployment_condition'];

export function createConditionActivities(deps: ActivityDependencies) {
  const queryTimeoutMs = minutes(deps.limits.queryMinutes);

  /** The build serving a model's variation in an environment now, as a champion to beat. */
  async function championOf(modelId: string, environment: string, variation: string): Promise<ServingChampion | undefined> {
    const serving = (await deps.deploymentTarget.status(modelId, environment))?.variations[variation];
    return serving ? { buildId: serving.buildId, metrics: serving.metrics } : undefined;
  }

  return {
    async checkDeploymentCondition(input: {
      condition: Condition;
      metrics: Record<string, number>;
      modelId: string;
      variation: string;
      environment: string;
    }): Promise<ConditionOutcome> {
      return withHeartbeat(async () =>
        evaluateCondition({
          condition: input.condition,
          metrics: input.metrics,
          openAnalytics: deps.openAnalytics,
          champion: await championOf(input.modelId, input.environment, input.variation),
          queryTimeoutMs,
        }),
      );
    },

    async evaluateRolloutGuard(input: {
      guard: NonNullable<Automation['action']['rollout']>['guard'];
      buildId: string;
      metrics: Record<string, number>;
    }): Promise<ConditionOutcome> {
      return withHeartbeat(() => evaluateGuard({ ...input, openAnalytics: deps.openAnalytics, queryTimeoutMs }));
    },

    /** The threshold a run would compare with now, and where it comes from (for `refit plan --run`). */
    async planCondition(input: { condition: Condition; modelId: string; variation: string; environment: string }): Promise<string> {
      return withHeartbeat(async () =>
        describeCondition(input.condition, {
          openAnalytics: deps.openAnalytics,
          champion: await championOf(input.modelId, input.environment, input.variation),
          queryTimeoutMs,
        }),
      );
    },

    /** The value of a metric trigger's SQL on the analytics store. */
    async evaluateMetricTrigger(input: { sqlQuery: string }): Promise<number> {
      return withHeartbeat(
        async () =>
          (await sqlValue({ openAnalytics: deps.openAnalytics, sql: input.sqlQuery, what: "the metric trigger's query", timeoutMs: queryTimeoutMs })).value,
      );
    },
  };
}
