// Which conditions the build's own step may decide (those that need only its metrics), and that it decides
// them as the condition step would: the same outcome, word for word.
import { describe, expect, it } from '@jest/globals';
import { decideFromMetrics, evaluateCondition } from '../../activities/condition/evaluateCondition.js';
import type { AutomationModel } from '../../spec/schema/automation.js';

type Condition = AutomationModel['action']['deployment_condition'];

const metrics = { f1_score: 0.82, recall: 0.7 };
const stepDecides = (condition: Condition) =>
  evaluateCondition({ condition, metrics, openAnalytics: async () => Promise.reject(new Error('no store here')), queryTimeoutMs: 1000 });

describe('decideFromMetrics', () => {
  it.each<[string, Condition]>([
    ['a static threshold that passes', { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' }],
    ['a static threshold that fails', { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.95' }],
    ['a static threshold below', { type: 'BuildMetric', metric_name: 'recall', direction: 'BELOW', threshold: '0.75' }],
    ['a threshold equal to the value (strict: fails)', { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.82' }],
    ['no condition', undefined],
  ])('decides %s exactly as the condition step does', async (_what, condition) => {
    const decided = await decideFromMetrics(condition, metrics);
    expect(decided).toBeDefined();
    expect(decided).toEqual(await stepDecides(condition));
  });

  it.each<[string, Condition]>([
    ['a SQL threshold (it asks the analytics store)', { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: 'SELECT 0.5' }],
    ['champion/challenger (it asks what serves now)', { type: 'DeployedBuildMetric', metric_name: 'f1_score', direction: 'ABOVE' }],
    ['a metric the build did not log (the step says so)', { type: 'BuildMetric', metric_name: 'auc', direction: 'ABOVE', threshold: '0.5' }],
    ['a metric named like a member of every object', { type: 'BuildMetric', metric_name: 'constructor', direction: 'ABOVE', threshold: '0.5' }],
    ['a threshold that is no number and no query', { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.5.5' }],
  ])('leaves %s to the condition step', async (_what, condition) => {
    expect(await decideFromMetrics(condition, metrics)).toBeUndefined();
  });
});
