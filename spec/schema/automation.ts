import { z } from 'zod';
import { BuildSpecifications } from './build.js';
import { Identifier, NumberLike, ThresholdDirection } from './common.js';
import { BuildMetric, DeploymentCondition } from './condition.js';
import { DeploymentSpecifications } from './deployment.js';
import { Notification } from './notifications.js';
import { Interval, SqlQuery, Trigger } from './triggers.js';

/**
 * A person decides before a build that passed its condition is deployed. The run waits durably (no
 * compute held) for `refit approve` / `refit reject`, up to `timeout`; then `on_timeout` decides.
 */
export const ApprovalPolicy = z.strictObject({
  required: z.boolean({ error: 'must be true or false' }).default(true),
  timeout: Interval.default('24h'),
  on_timeout: z.enum(['reject', 'approve'], { error: 'must be reject or approve' }).default('reject'),
});

/**
 * A live value from model analytics, checked while a canary serves: `sql_query` returns one number (it may
 * use {{build_id}} to look at the canary's own traffic), compared with `threshold` in `direction`.
 */
export const LiveMetric = z.strictObject({
  type: z.literal('LiveMetric'),
  sql_query: SqlQuery,
  direction: ThresholdDirection,
  threshold: NumberLike,
});

/** Shift traffic to the new build step by step, checking a guard after each step; a failing guard rolls back. */
export const CanaryRollout = z
  .strictObject({
    strategy: z.literal('canary'),
    /** Percent of traffic the new build takes at each step; the last must be 100. */
    steps: z
      .array(z.number({ error: 'must be a percentage' }).int({ error: 'must be a whole percentage' }).min(1).max(100))
      .min(1)
      .default([10, 50, 100]),
    /** How long each step serves before its guard is checked. */
    interval: Interval.default('10m'),
    guard: z.discriminatedUnion('type', [BuildMetric, LiveMetric]),
  })
  .superRefine(
    (rollout, ctx) => {
      if (rollout.steps.at(-1) !== 100)
        ctx.addIssue({ code: 'custom', path: ['steps'], message: 'the last step must be 100 (the new build takes all traffic)' });
      rollout.steps.forEach((step, index) => {
        if (index > 0 && step <= rollout.steps[index - 1]!)
          ctx.addIssue({ code: 'custom', path: ['steps', index], message: `${step} is not more than the step before it (${rollout.steps[index - 1]})` });
      });
    },
    { when: (payload) => Array.isArray((payload.value as { steps?: unknown })?.steps) },
  );

/** Build the model from git, check its metric, deploy it. QwakBuildDeploy is the seed's name for it. */
export const BuildDeploy = z.strictObject({
  type: z
    .enum(['BuildDeploy', 'QwakBuildDeploy'], { error: 'must be BuildDeploy (or its alias QwakBuildDeploy)' })
    .default('BuildDeploy')
    .transform(() => 'BuildDeploy' as const),
  build_spec: BuildSpecifications,
  /** Omitted: every successful build is deployed. */
  deployment_condition: DeploymentCondition.optional(),
  deployment_spec: DeploymentSpecifications.prefault({}),
  approval: ApprovalPolicy.optional(),
  /** Without it, the new build replaces the old at once when its pods are ready. */
  rollout: CanaryRollout.optional(),
});

export const Automation = z.strictObject({
  name: Identifier,
  model_id: Identifier,
  description: z.string().max(1000, { error: 'must be at most 1000 characters' }).default(''),
  trigger: Trigger,
  action: BuildDeploy,
  is_enabled: z.boolean({ error: 'must be true or false' }).default(true),
  /** Also run once right after registration, besides the trigger. */
  execute_immediately: z.boolean({ error: 'must be true or false' }).default(false),
  on_error: Notification.optional(),
  on_success: Notification.optional(),
});

export type AutomationInput = z.input<typeof Automation>;
export type AutomationModel = z.output<typeof Automation>;
