import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { metricValue } from '../../shared/metrics.js';
import type { ConditionOutcome } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { parseThreshold } from '../../spec/threshold.js';
import { AnalyticsQueryError, type AnalyticsStore } from '../analytics/analyticsStore.js';

type Condition = AutomationModel['action']['deployment_condition'];

export interface ServingChampion {
  buildId: string;
  metrics: Record<string, number>;
}

/**
 * Decides whether a build may be deployed. ABOVE and BELOW are strict: a value equal to the threshold
 * does not pass, so a challenger that only ties the champion does not replace it.
 */
export async function evaluateCondition(options: {
  condition: Condition;
  metrics: Record<string, number>;
  openAnalytics: () => Promise<AnalyticsStore>;
  champion?: ServingChampion;
  queryTimeoutMs: number;
}): Promise<ConditionOutcome> {
  const { condition, metrics } = options;
  if (!condition) return { passed: true, reason: 'no deployment condition: every successful build is deployed', threshold_source: 'none' };
  const value = metricValue(metrics, condition.metric_name);
  if (value === undefined) {
    throw new RefitError(ErrorTypes.MetricNotFound, `the build logged no metric "${condition.metric_name}"; it logged: ${Object.keys(metrics).join(', ') || 'nothing'}`);
  }
  const base = { metric_name: condition.metric_name, value, direction: condition.direction };
  if (condition.type === 'DeployedBuildMetric') {
    const championValue = metricValue(options.champion?.metrics, condition.metric_name);
    if (!options.champion || championValue === undefined) {
      const why = options.champion ? `the serving build ${options.champion.buildId} has no recorded ${condition.metric_name}` : 'no build of this model is serving yet';
      return { ...base, passed: true, threshold_source: 'serving_build', reason: `${why}, so the first build passes (${condition.metric_name} ${value})` };
    }
    const passed = beats(value, championValue, condition.direction);
    return {
      ...base,
      passed,
      threshold: championValue,
      threshold_source: 'serving_build',
      serving_build_id: options.champion.buildId,
      reason: `${condition.metric_name} ${value} ${passed ? 'beats' : 'does not beat'} the serving build ${options.champion.buildId} (${championValue}, ${condition.direction === 'ABOVE' ? 'higher' : 'lower'} is better)`,
    };
  }
  const threshold = parseThreshold(condition.threshold);
  if ('error' in threshold) throw new RefitError(ErrorTypes.InvalidDefinition, `deployment_condition.threshold ${threshold.error}`);
  let limit: number;
  if (threshold.kind === 'static') {
    limit = threshold.value;
  } else {
    const store = await options.openAnalytics();
    try {
      limit = await store.queryNumber(threshold.query, { timeoutMs: options.queryTimeoutMs });
    } catch (err) {
      throw thresholdQueryFailure(err, 'the dynamic threshold');
    } finally {
      await store.close();
    }
  }
  const passed = beats(value, limit, condition.direction);
  const word = condition.direction === 'ABOVE' ? 'above' : 'below';
  return {
    ...base,
    passed,
    threshold: limit,
    threshold_source: threshold.kind,
    ...(threshold.kind === 'sql' ? { threshold_query: threshold.query } : {}),
    reason: `${condition.metric_name} ${value} is ${passed ? '' : 'not '}${word} the ${threshold.kind === 'sql' ? 'SQL ' : ''}threshold ${limit}`,
  };
}

function beats(value: number, threshold: number, direction: 'ABOVE' | 'BELOW'): boolean {
  return direction === 'ABOVE' ? value > threshold : value < threshold;
}

/** A store that is down or slow may recover (retry); a query that returns the wrong shape will not. */
export function thresholdQueryFailure(err: unknown, what: string): Error {
  if (err instanceof AnalyticsQueryError && !['unavailable', 'timeout'].includes(err.kind)) {
    return new RefitError(ErrorTypes.ThresholdQueryInvalid, `${what} failed: ${err.message}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
