// Advice on a valid automation: things that are allowed but probably not what was meant, and how
// parts that depend on the worker's configuration will be resolved.
import { readCron } from './cron.js';
import { isLoopbackHost, parseGitUri } from './gitUri.js';
import type { AutomationModel } from './schema/automation.js';
import { parseThreshold } from './threshold.js';
import type { Problem } from './problems.js';

export const ANALYTICS_CONFIGURATION_HINT =
  'runs on the worker\'s model-analytics store, set by REFIT_ANALYTICS_URL (e.g. "postgres://…"); ' +
  'without it, the worker uses DuckDB over $REFIT_HOME/analytics.duckdb';

export function lintAutomation(automation: AutomationModel): Problem[] {
  const problems: Problem[] = [];
  const { trigger } = automation;
  const cron = trigger.type === 'ScheduledTrigger' ? trigger.cron : trigger.type === 'MetricBasedTrigger' ? trigger.override_cron : undefined;
  if (cron !== undefined) {
    const reading = readCron(cron);
    const field = trigger.type === 'ScheduledTrigger' ? 'cron' : 'override_cron';
    if (!('error' in reading)) for (const message of reading.warnings) problems.push({ path: ['trigger', field], message, severity: 'warning' });
  }
  if (trigger.type === 'MetricBasedTrigger') {
    problems.push({ path: ['trigger', 'metric', 'sql_query'], message: `the trigger's query ${ANALYTICS_CONFIGURATION_HINT}`, severity: 'note' });
  }
  const condition = automation.action.deployment_condition;
  if (condition?.type === 'BuildMetric') {
    const threshold = parseThreshold(condition.threshold);
    if (!('error' in threshold) && threshold.kind === 'sql') {
      problems.push({
        path: ['action', 'deployment_condition', 'threshold'],
        message: `the threshold is a SQL query that ${ANALYTICS_CONFIGURATION_HINT}; it must return one row with one numeric column`,
        severity: 'note',
      });
    }
  }
  const location = parseGitUri(automation.action.build_spec.git_uri);
  if (!('error' in location) && location.scheme === 'file') {
    problems.push({
      path: ['action', 'build_spec', 'git_uri'],
      message: "a file:// repository is on the worker's own disk: the worker clones it only when its operator sets REFIT_GIT_ALLOW_FILE=true",
      severity: 'note',
    });
  } else if (!('error' in location) && location.scheme === 'http' && !isLoopbackHost(location.host)) {
    problems.push({
      path: ['action', 'build_spec', 'git_uri'],
      message: `http:// to ${location.host} is neither encrypted nor authenticated: the worker clones it only when its operator lists the host in REFIT_GIT_ALLOW_HTTP_HOSTS, and never sends a token over it`,
      severity: 'warning',
    });
  }
  const spec = automation.action.deployment_spec;
  const scaling = spec.auto_scale_config;
  if (scaling && (spec.number_of_pods < scaling.min_replica_count || spec.number_of_pods > scaling.max_replica_count)) {
    problems.push({
      path: ['action', 'deployment_spec', 'number_of_pods'],
      message:
        `${spec.number_of_pods} pods is outside auto_scale_config's range ` +
        `[${scaling.min_replica_count}, ${scaling.max_replica_count}]: the autoscaler will change it at once`,
      severity: 'warning',
    });
  }
  if (!automation.is_enabled && automation.execute_immediately) {
    problems.push({
      path: ['execute_immediately'],
      message: 'the automation is disabled (is_enabled: false), so it will not run on registration either',
      severity: 'warning',
    });
  }
  return problems;
}
