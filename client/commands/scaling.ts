import type { EnvironmentScale, ScaleStatusResult, VariationScale } from '../../shared/operations.js';
import { table, withRefitClient } from '../cliContext.js';
import { paint } from '../output.js';

/** `refit scale-status <automation>`: per environment, each variation's replicas, its triggers against their thresholds, the last rescale. */
export async function scaleStatusCommand(name: string, options: { json?: boolean }): Promise<number> {
  return withRefitClient(async (refit) => {
    const status = await refit.scaleStatus(name);
    console.log(options.json ? JSON.stringify(status, null, 2) : formatScaleStatus(status, new Date()));
  });
}

export function formatScaleStatus(status: ScaleStatusResult, now: Date): string {
  const sections = status.environments.map((environment) => formatEnvironment(environment, now));
  return `${paint('bold', status.automation)} (model ${status.model_id})\n\n${sections.join('\n\n')}`;
}

function formatEnvironment(environment: EnvironmentScale, now: Date): string {
  const title = `${paint('bold', `environment ${environment.environment || '(default)'}`)}, ${environment.where}`;
  if (environment.unsupported) return `${title}: ${environment.unsupported}`;
  if (!environment.variations.length) return `${title}: nothing of this model serves here`;
  const rows = environment.variations.flatMap((variation) => variationRows(variation, now));
  const problems = environment.variations.flatMap((variation) => variation.problems.map((problem) => `  ${variation.variation}: ${paint('yellow', problem)}`));
  return [title, table(['variation', 'autoscaler', 'replicas', 'range', 'trigger', 'now', 'threshold', 'last scaling'], rows), ...problems].join('\n');
}

function variationRows(variation: VariationScale, now: Date): string[][] {
  const replicas = `${variation.ready_replicas}/${variation.replicas} ready${variation.desired_replicas !== undefined && variation.desired_replicas !== variation.replicas ? `, wants ${variation.desired_replicas}` : ''}`;
  const range = variation.min_replicas !== undefined ? `${variation.min_replicas}-${variation.max_replicas}` : '';
  const last = variation.last_scale
    ? `${ago(new Date(variation.last_scale.at), now)}: ${variation.last_scale.message}`
    : variation.autoscaler === 'none'
      ? ''
      : 'none yet';
  const autoscaler = { keda: 'KEDA', hpa: 'HPA', none: 'none (number_of_pods)' }[variation.autoscaler];
  if (!variation.triggers.length) return [[variation.variation, autoscaler, replicas, range, '', '', '', last]];
  return variation.triggers.map((trigger, index) => {
    const value = trigger.value === undefined ? 'no reading yet' : withUnit(trigger.value, trigger.unit);
    const above = trigger.value !== undefined && trigger.value > trigger.threshold;
    const first = index === 0;
    return [
      first ? variation.variation : '',
      first ? autoscaler : '',
      first ? replicas : '',
      first ? range : '',
      trigger.trigger,
      above ? paint('yellow', value) : value,
      withUnit(trigger.threshold, trigger.unit),
      first ? last : '',
    ];
  });
}

/** 3-4 significant digits: 0.0123, 1.235, 98.77, 1235. */
export function significant(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1000 ? String(Math.round(value)) : String(Number(value.toPrecision(4)));
}

function withUnit(value: number, unit: string): string {
  return unit ? `${significant(value)} ${unit}` : significant(value);
}

export function ago(then: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (seconds < 90) return `${seconds}s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}
