import { nextFireTimes, readCron } from './cron.js';
import { parseGitUri } from './gitUri.js';
import type { AutomationModel } from './schema/automation.js';
import { parseThreshold } from './threshold.js';

/** One line that says what an automation does, for `refit validate` and `refit list`. */
export function summarizeAutomation(automation: AutomationModel, now: Date = new Date()): string {
  const parts = [`model ${automation.model_id}`, describeTrigger(automation, now), describeBuild(automation), describeDeploy(automation)];
  if (!automation.is_enabled) parts.push('disabled');
  return parts.join(' · ');
}

export function describeTrigger(automation: AutomationModel, now: Date = new Date()): string {
  const { trigger } = automation;
  switch (trigger.type) {
    case 'ScheduledTrigger': {
      if (trigger.interval !== undefined) return `every ${trigger.interval}`;
      const reading = readCron(trigger.cron!);
      if ('error' in reading) return `cron "${trigger.cron}"`;
      const next = nextFireTimes(reading, trigger.timezone, now, 1)[0];
      const nextText = next ? `next ${formatInZone(next, trigger.timezone)}` : 'never fires';
      return `cron "${trigger.cron}" ${trigger.timezone} (${reading.description}; ${nextText})`;
    }
    case 'MetricBasedTrigger':
      return `when ${trigger.name} goes ${trigger.direction.toLowerCase()} ${trigger.threshold} (checked "${trigger.override_cron}" ${trigger.timezone})`;
    case 'NoneTrigger':
      return 'on demand only';
  }
}

function describeBuild(automation: AutomationModel): string {
  const spec = automation.action.build_spec;
  const location = parseGitUri(spec.git_uri);
  const where = 'error' in location ? spec.git_uri : `${location.repository}${location.subdirectory ? `#${location.subdirectory}` : ''}`;
  return `builds ${where} @ ${spec.git_branch}${spec.git_access_token_secret ? ` (token: secret ${spec.git_access_token_secret})` : ''}`;
}

function describeDeploy(automation: AutomationModel): string {
  const { deployment_condition: condition, deployment_spec: spec } = automation.action;
  let when = 'deploys every successful build';
  if (condition?.type === 'BuildMetric') {
    const threshold = parseThreshold(condition.threshold);
    const value = 'error' in threshold ? condition.threshold : threshold.kind === 'static' ? String(threshold.value) : 'a SQL threshold';
    when = `deploys if ${condition.metric_name} ${condition.direction.toLowerCase()} ${value}`;
  } else if (condition?.type === 'DeployedBuildMetric') {
    when = `deploys if ${condition.metric_name} beats the serving build (${condition.direction.toLowerCase()})`;
  }
  const pods = spec.auto_scale_config
    ? `${spec.auto_scale_config.min_replica_count}-${spec.auto_scale_config.max_replica_count} pods (autoscaled)`
    : `${spec.number_of_pods} pod${spec.number_of_pods === 1 ? '' : 's'}`;
  const environments = spec.environments.length ? ` to ${spec.environments.join(', ')}` : '';
  return `${when}: ${pods} × ${spec.cpu_fraction} CPU, ${spec.memory}, variation ${spec.variation_name}${environments}`;
}

export function formatInZone(date: Date, timeZone: string): string {
  const text = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(
    date,
  );
  return `${text} ${timeZone}`;
}
