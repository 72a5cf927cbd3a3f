import { z } from 'zod';
import { isValidTimeZone, readCron } from '../cron.js';
import { parseInterval } from '../interval.js';
import { singleSelect } from '../sqlText.js';
import { Identifier, NumberLike, ThresholdDirection } from './common.js';

export const CronExpression = z.string({ error: 'must be a cron expression string such as "0 0 * * 0"' }).superRefine((cron, ctx) => {
  const reading = readCron(cron);
  if ('error' in reading) ctx.addIssue({ code: 'custom', message: `"${cron}" ${reading.error}` });
});

export const TimeZone = z.string().refine(isValidTimeZone, {
  error: (issue) => `"${String(issue.input)}" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")`,
});

export const Interval = z.string({ error: 'must be an interval string such as "15m", "6h", "1d" or Daily' }).superRefine((interval, ctx) => {
  const parsed = parseInterval(interval);
  if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
});

/** What a schedule does when a run is due while the previous one still runs (Temporal's overlap policies). */
export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export const OverlapPolicy = z.enum(OVERLAP_POLICIES, {
  error: (issue) => `"${String(issue.input)}" is not an overlap policy: one of ${OVERLAP_POLICIES.join(', ')}`,
});

/** Runs on a cron expression or at a fixed interval; cron times are read in `timezone` (UTC by default, as in the seed). */
export const ScheduledTrigger = z
  .strictObject({
    type: z.literal('ScheduledTrigger'),
    cron: CronExpression.optional(),
    interval: Interval.optional(),
    timezone: TimeZone.default('UTC'),
    /** Default: a run due while the previous one still builds is skipped. */
    overlap_policy: OverlapPolicy.default('skip'),
    /** How late a missed run (the server was down) may still start; later ones are skipped. */
    catchup_window: Interval.default('1h'),
  })
  .superRefine(
    (trigger, ctx) => {
      if (trigger.cron === undefined && trigger.interval === undefined) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: 'a ScheduledTrigger needs either cron ("0 0 * * 0") or interval ("6h")' });
      } else if (trigger.cron !== undefined && trigger.interval !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['interval'], message: 'give either cron or interval, not both' });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/** One read-only query over the model-analytics store (comments and string literals may hold anything). */
export const SqlQuery = z
  .string({ error: 'must be a SQL query string' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .transform((sql, ctx) => {
    const checked = singleSelect(sql);
    if ('error' in checked) {
      ctx.addIssue({ code: 'custom', message: checked.error });
      return z.NEVER;
    }
    return checked.query;
  });

/** A metric computed by SQL over the model-analytics store. */
export const SqlMetric = z.strictObject({
  type: z.literal('SqlMetric').default('SqlMetric'),
  sql_query: SqlQuery,
});

/** Checks a metric on a schedule and starts a build when it crosses `threshold` in `direction`. */
export const MetricBasedTrigger = z.strictObject({
  type: z.literal('MetricBasedTrigger'),
  name: Identifier,
  metric: SqlMetric,
  direction: ThresholdDirection,
  threshold: NumberLike,
  override_cron: CronExpression.default('*/15 * * * *'),
  timezone: TimeZone.default('UTC'),
});

/** Runs only when asked (`refit run`). */
export const NoneTrigger = z.strictObject({ type: z.literal('NoneTrigger') });

export const TRIGGER_TYPES = ['ScheduledTrigger', 'MetricBasedTrigger', 'NoneTrigger'] as const;
export const Trigger = z.discriminatedUnion('type', [ScheduledTrigger, MetricBasedTrigger, NoneTrigger]);
