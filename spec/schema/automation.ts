import { z } from 'zod';
import { BuildSpecifications } from './build.js';
import { Identifier } from './common.js';
import { DeploymentCondition } from './condition.js';
import { DeploymentSpecifications } from './deployment.js';
import { Notification } from './notifications.js';
import { Trigger } from './triggers.js';

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
