import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { metricValue } from '../../shared/metrics.js';
import type { ConditionOutcome } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { parseThreshold } from '../../spec/threshold.js';
import type { AnalyticsStore } from '../analytics/analyticsStore.js';
import { sqlValue } from '../analytics/sqlValue.js';

type Condition = AutomationModel['action']['deployment_condition'];

export interface ServingChampion {
  buildId: string;
  metrics: Record<string, number>;
}

interface ThresholdSources {
  openAnalytics: () => Promise<AnalyticsStore>;
  champion?: ServingChampion;
  queryTimeoutMs: number;
}

/** What a condition compares with now: a number and where it came from, or nothing to compare with. */
export type ResolvedThreshold =
  | { kind: 'none' }
  | { kind: 'first_build'; why: string }
  | { kind: 'value'; value: number; source: 'static' | 'sql' | 'serving_build'; query?: string; store?: string; servingBuildId?: string };

/**
 * The threshold a condition has now: static, computed by its SQL, or the serving build's metric. The run
 * and `refit plan --run` both take it from here, so what a plan says is what a run would do.
 */
export async function resolveThreshold(condition: Condition, sources: ThresholdSources): Promise<ResolvedThreshold> {
  if (!condition) return { kind: 'none' };
  if (condition.type === 'DeployedBuildMetric') {
    const championValue = metricValue(sources.champion?.metrics, condition.metric_name);
    if (!sources.champion || championValue === undefined) {
      const why = sources.champion
        ? `the serving build ${sources.champion.buildId} has no recorded ${condition.metric_name}`
        : 'no build of this model is serving yet';
      return { kind: 'first_build', why };
    }
    return { kind: 'value', value: championValue, source: 'serving_build', servingBuildId: sources.champion.buildId };
  }
  const threshold = parseThreshold(condition.threshold);
  if ('error' in threshold) throw new RefitError(ErrorTypes.InvalidDefinition, `deployment_condition.threshold ${threshold.error}`);
  if (threshold.kind === 'static') return { kind: 'value', value: threshold.value, source: 'static' };
  const computed = await sqlValue({
    openAnalytics: sources.openAnalytics,
    sql: threshold.query,
    what: 'the dynamic threshold',
    timeoutMs: sources.queryTimeoutMs,
  });
  return { kind: 'value', value: computed.value, source: 'sql', query: threshold.query, store: computed.store };
}

/**
 * Decides whether a build may be deployed. ABOVE and BELOW are strict: a value equal to the threshold
 * does not pass, so a challenger that only ties the champion does not replace it.
 */
export async function evaluateCondition(options: { condition: Condition; metrics: Record<string, number> } & ThresholdSources): Promise<ConditionOutcome> {
  const { condition, metrics } = options;
  if (!condition) return { passed: true, reason: 'no deployment condition: every successful build is deployed', threshold_source: 'none' };
  const value = metricValue(metrics, condition.metric_name);
  if (value === undefined) {
    throw new RefitError(
      ErrorTypes.MetricNotFound,
      `the build logged no metric "${condition.metric_name}"; it logged: ${Object.keys(metrics).join(', ') || 'nothing'}`,
    );
  }
  const base = { metric_name: condition.metric_name, value, direction: condition.direction };
  const threshold = await resolveThreshold(condition, options);
  if (threshold.kind === 'none') return { passed: true, reason: 'no deployment condition: every successful build is deployed', threshold_source: 'none' };
  if (threshold.kind === 'first_build') {
    return {
      ...base,
      passed: true,
      threshold_source: 'serving_build',
      reason: `${threshold.why}, so the first build passes (${condition.metric_name} ${value})`,
    };
  }
  const passed = beats(value, threshold.value, condition.direction);
  if (threshold.source === 'serving_build') {
    return {
      ...base,
      passed,
      threshold: threshold.value,
      threshold_source: 'serving_build',
      serving_build_id: threshold.servingBuildId,
      reason: `${condition.metric_name} ${value} ${passed ? 'beats' : 'does not beat'} the serving build ${threshold.servingBuildId} (${threshold.value}, ${condition.direction === 'ABOVE' ? 'higher' : 'lower'} is better)`,
    };
  }
  const word = condition.direction === 'ABOVE' ? 'above' : 'below';
  return {
    ...base,
    passed,
    threshold: threshold.value,
    threshold_source: threshold.source,
    ...(threshold.query ? { threshold_query: threshold.query } : {}),
    reason: `${condition.metric_name} ${value} is ${passed ? '' : 'not '}${word} the ${threshold.source === 'sql' ? 'SQL ' : ''}threshold ${threshold.value}`,
  };
}

/**
 * The outcome of a condition that needs nothing but the build's metrics (none, or a static threshold), so
 * that the build's own step can decide it; undefined for one that asks a store or the serving build, or
 * when the metric it names is missing: the run's condition step then decides (and says what is wrong).
 */
export async function decideFromMetrics(condition: Condition, metrics: Record<string, number>): Promise<ConditionOutcome | undefined> {
  if (condition) {
    if (condition.type === 'DeployedBuildMetric' || metricValue(metrics, condition.metric_name) === undefined) return undefined;
    const threshold = parseThreshold(condition.threshold);
    if ('error' in threshold || threshold.kind !== 'static') return undefined;
  }
  return evaluateCondition({ condition, metrics, openAnalytics: noStore, queryTimeoutMs: 0 });
}

/** What a condition decided from metrics alone would open if it asked a store: never reached (checked above). */
function noStore(): Promise<AnalyticsStore> {
  return Promise.reject(new Error('a condition decided from the metrics alone opens no analytics store'));
}

/** What a run would decide, said before it builds (`refit plan --run`): the same threshold a run would use. */
export async function describeCondition(condition: Condition, sources: ThresholdSources): Promise<string> {
  if (!condition) return 'deploy every successful build (no deployment condition)';
  const word = condition.direction === 'ABOVE' ? 'above' : 'below';
  const threshold = await resolveThreshold(condition, sources);
  if (threshold.kind === 'none') return 'deploy every successful build (no deployment condition)';
  if (threshold.kind === 'first_build') return `deploy the build whatever its ${condition.metric_name}: ${threshold.why}`;
  if (threshold.source === 'serving_build')
    return `deploy if ${condition.metric_name} is ${word} ${threshold.value}, the serving build ${threshold.servingBuildId}'s`;
  if (threshold.source === 'sql')
    return `deploy if ${condition.metric_name} is ${word} ${threshold.value}, what the SQL threshold returns now on ${threshold.store}`;
  return `deploy if ${condition.metric_name} is ${word} ${threshold.value}`;
}

export function beats(value: number, threshold: number, direction: 'ABOVE' | 'BELOW'): boolean {
  return direction === 'ABOVE' ? value > threshold : value < threshold;
}
