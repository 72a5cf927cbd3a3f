import { z } from 'zod';
import { BuildSpecifications } from './build.js';
import { Identifier } from './common.js';
import { DeploymentCondition } from './condition.js';
import { DeploymentSpecifications } from './deployment.js';
import { Notification } from './notifications.js';
import { Interval, Trigger } from './triggers.js';

/**
 * A person decides before a build that passed its condition is deployed. The run waits durably (no
 * compute held) for `refit approve` / `refit reject`, up to `timeout`; then `on_timeout` decides.
 */
export const ApprovalPolicy = z.strictObject({
  required: z.boolean({ error: 'must be true or false' }).default(true),
  timeout: Interval.default('24h'),
  on_timeout: z.enum(['reject', 'approve'], { error: 'must be reject or approve' }).default('reject'),
});

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
