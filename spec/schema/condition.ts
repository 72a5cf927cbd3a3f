import { z } from 'zod';
import { parseThreshold } from '../threshold.js';
import { ThresholdDirection } from './common.js';

const MetricName = z.string({ error: 'must be the name of a metric the build logs' }).regex(/^[A-Za-z_][\w.:/-]{0,127}$/, {
  error: (issue) => `"${String(issue.input)}" is not a metric name (letters, digits, "_", ".", ":", "/", "-")`,
});

/**
 * The seed insists that a threshold is a string: "0.65", or a SQL query over model analytics that
 * returns the threshold (one row, one numeric column).
 */
const ThresholdText = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? 'is required: a number in quotes ("0.65") or a SQL query'
        : typeof issue.input === 'number'
          ? `must be a string: write "${issue.input}" in quotes (the threshold is always a string, so that it can also hold a SQL query)`
          : 'must be a string: a number in quotes ("0.65") or a SQL query',
  })
  .superRefine((threshold, ctx) => {
    const parsed = parseThreshold(threshold);
    if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
  });

/** Deploy when the build's metric is above or below a threshold. */
export const BuildMetric = z.strictObject({
  type: z.literal('BuildMetric'),
  metric_name: MetricName,
  direction: ThresholdDirection,
  threshold: ThresholdText,
});

/** Deploy only when the new build beats the build serving now on the metric (champion/challenger). */
export const DeployedBuildMetric = z.strictObject({
  type: z.literal('DeployedBuildMetric'),
  metric_name: MetricName,
  direction: ThresholdDirection,
});

export const CONDITION_TYPES = ['BuildMetric', 'DeployedBuildMetric'] as const;
export const DeploymentCondition = z.discriminatedUnion('type', [BuildMetric, DeployedBuildMetric]);
