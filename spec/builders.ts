// The TypeScript surface a user writes: the seed's names and snake_case options, so that the seed's
// Python example translates line by line. Each builder returns plain data; validation happens when the
// definitions are loaded (`refit validate`), so that every error in every file is reported at once.
import type { z } from 'zod';
import type * as schema from './schema/index.js';

type Options<T extends z.ZodType> = Omit<z.input<T>, 'type'>;

/** ThresholdDirection.ABOVE / ThresholdDirection.BELOW, as in the seed. */
export const ThresholdDirection = { ABOVE: 'ABOVE', BELOW: 'BELOW' } as const;
export type ThresholdDirection = (typeof ThresholdDirection)[keyof typeof ThresholdDirection];

const AUTOMATION = Symbol.for('refit.automation');

export type AutomationDefinition = z.input<typeof schema.Automation> & { readonly [AUTOMATION]: true };

export function Automation(options: z.input<typeof schema.Automation>): AutomationDefinition {
  return Object.defineProperty({ ...options }, AUTOMATION, { value: true, enumerable: false }) as AutomationDefinition;
}

export function isAutomationDefinition(value: unknown): value is AutomationDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[AUTOMATION] === true;
}

export const ScheduledTrigger = (options: Options<typeof schema.ScheduledTrigger>) => ({ type: 'ScheduledTrigger' as const, ...options });
export const MetricBasedTrigger = (options: Options<typeof schema.MetricBasedTrigger>) => ({ type: 'MetricBasedTrigger' as const, ...options });
export const NoneTrigger = () => ({ type: 'NoneTrigger' as const });
export const SqlMetric = (options: Options<typeof schema.SqlMetric>) => ({ type: 'SqlMetric' as const, ...options });

export const BuildDeploy = (options: Options<typeof schema.BuildDeploy>) => ({ type: 'BuildDeploy' as const, ...options });
/** The seed's name for BuildDeploy. */
export const QwakBuildDeploy = BuildDeploy;

export const BuildSpecifications = (options: z.input<typeof schema.BuildSpecifications>) => ({ ...options });
export const CpuResources = (options: Options<typeof schema.CpuResources>) => ({ type: 'CpuResources' as const, ...options });
export const GpuResources = (options: Options<typeof schema.GpuResources>) => ({ type: 'GpuResources' as const, ...options });
export const ClientResources = (options: Options<typeof schema.ClientResources>) => ({ type: 'ClientResources' as const, ...options });

export const BuildMetric = (options: Options<typeof schema.BuildMetric>) => ({ type: 'BuildMetric' as const, ...options });
export const DeployedBuildMetric = (options: Options<typeof schema.DeployedBuildMetric>) => ({ type: 'DeployedBuildMetric' as const, ...options });

export const DeploymentSpecifications = (options: z.input<typeof schema.DeploymentSpecifications>) => ({ ...options });
export const AutoScalingConfig = (options: z.input<typeof schema.AutoScalingConfig>) => ({ ...options });
export const AutoScalingPrometheusTrigger = (options: Options<typeof schema.AutoScalingPrometheusTrigger>) => ({
  type: 'AutoScalingPrometheusTrigger' as const,
  ...options,
});
export const AutoScaleQuerySpec = (options: z.input<typeof schema.AutoScaleQuerySpec>) => ({ ...options });

export const SlackNotification = (options: Options<typeof schema.SlackNotification>) => ({ type: 'SlackNotification' as const, ...options });
export const CustomWebhook = (options: Options<typeof schema.CustomWebhook>) => ({ type: 'CustomWebhook' as const, ...options });
/** A reference to a stored secret, for fields that would otherwise hold a credential. */
export const Secret = (name: string) => ({ secret: name });
