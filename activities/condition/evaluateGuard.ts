import type { ConditionOutcome } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import type { AnalyticsStore } from '../analytics/analyticsStore.js';
import { sqlValue } from '../analytics/sqlValue.js';
import { beats, evaluateCondition } from './evaluateCondition.js';

type Guard = NonNullable<AutomationModel['action']['rollout']>['guard'];

/**
 * Checks a canary's guard after a step: a BuildMetric (the build's metric against a threshold, which may
 * be SQL over live analytics), or a LiveMetric (a live value, e.g. the canary's error rate, whose SQL may
 * name the canary's build as {{build_id}}). Strict like the deployment condition.
 */
export async function evaluateGuard(options: {
  guard: Guard;
  buildId: string;
  metrics: Record<string, number>;
  openAnalytics: () => Promise<AnalyticsStore>;
  queryTimeoutMs: number;
}): Promise<ConditionOutcome> {
  const { guard } = options;
  if (guard.type === 'BuildMetric') {
    return evaluateCondition({ condition: guard, metrics: options.metrics, openAnalytics: options.openAnalytics, queryTimeoutMs: options.queryTimeoutMs });
  }
  const query = guard.sql_query.replaceAll('{{build_id}}', options.buildId.replace(/'/g, "''"));
  const { value } = await sqlValue({ openAnalytics: options.openAnalytics, sql: query, what: "the canary guard's query", timeoutMs: options.queryTimeoutMs });
  const passed = beats(value, guard.threshold, guard.direction);
  const word = guard.direction === 'ABOVE' ? 'above' : 'below';
  return {
    passed,
    value,
    direction: guard.direction,
    threshold: guard.threshold,
    threshold_source: 'static',
    threshold_query: query,
    reason: `the live value ${value} is ${passed ? '' : 'not '}${word} ${guard.threshold}`,
  };
}
