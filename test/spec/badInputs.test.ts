import { describe, expect, it } from '@jest/globals';
import { formatPath, validateAutomation } from '../../spec/validate.js';
import { validInput, withChange } from './validTemplate.js';

interface BadCase {
  /** What is wrong, in words. */
  what: string;
  /** Dotted path to change, and the new value (undefined deletes it). */
  change: [string, unknown] | ((input: Record<string, unknown>) => unknown);
  /** The field path the error must name, and what its message must say. */
  path: string;
  message: RegExp;
}

const cron = (value: unknown): [string, unknown] => ['trigger', { type: 'ScheduledTrigger', cron: value }];
const metricTrigger = (overrides: Record<string, unknown>): [string, unknown] => [
  'trigger',
  { type: 'MetricBasedTrigger', name: 'drift', metric: { sql_query: 'SELECT avg(score) FROM predictions' }, direction: 'BELOW', threshold: 0.7, ...overrides },
];
const webhook = (overrides: Record<string, unknown>): [string, unknown] => [
  'on_error',
  { type: 'CustomWebhook', url: 'https://hooks.example.com/refit', ...overrides },
];
const B = 'action.build_spec';
const D = 'action.deployment_spec';
const A = `${D}.auto_scale_config`;
const C = 'action.deployment_condition';

const cases: BadCase[] = [
  // The automation itself
  { what: 'no name', change: ['name', undefined], path: 'name', message: /is required/ },
  { what: 'a name with spaces', change: ['name', 'Retrain Me'], path: 'name', message: /lower-case letters, digits/ },
  { what: 'a name too long', change: ['name', 'a'.repeat(70)], path: 'name', message: /1-63/ },
  { what: 'a numeric name', change: ['name', 42], path: 'name', message: /must be a string, not a number/ },
  { what: 'no model_id', change: ['model_id', undefined], path: 'model_id', message: /is required/ },
  { what: 'a model_id in capitals', change: ['model_id', 'My Model'], path: 'model_id', message: /lower-case/ },
  { what: 'a description too long', change: ['description', 'x'.repeat(1001)], path: 'description', message: /at most 1000/ },
  { what: 'is_enabled as a string', change: ['is_enabled', 'true'], path: 'is_enabled', message: /true or false/ },
  { what: 'execute_immediately as a number', change: ['execute_immediately', 1], path: 'execute_immediately', message: /true or false/ },
  { what: 'a misspelt top-level key', change: ['trigers', {}], path: 'trigers', message: /unknown key "trigers": did you mean "trigger"\?/ },
  { what: 'an unknown top-level key', change: ['owner', 'me'], path: 'owner', message: /unknown key "owner": allowed here: name, model_id/ },
  // Triggers
  { what: 'no trigger', change: ['trigger', undefined], path: 'trigger', message: /is required/ },
  {
    what: 'a trigger that is a string',
    change: ['trigger', 'weekly'],
    path: 'trigger',
    message: /must be an object with a type: one of ScheduledTrigger, MetricBasedTrigger, NoneTrigger/,
  },
  {
    what: 'a trigger without type',
    change: ['trigger', { cron: '0 0 * * 0' }],
    path: 'trigger.type',
    message: /is required: .*did you mean type: ScheduledTrigger/,
  },
  {
    what: 'a misspelt trigger type',
    change: ['trigger', { type: 'ScheduleTrigger', cron: '0 0 * * 0' }],
    path: 'trigger.type',
    message: /did you mean ScheduledTrigger/,
  },
  { what: 'a cron with six fields', change: cron('0 0 * * 0 2027'), path: 'trigger.cron', message: /6 fields; write exactly five.*sixth field as the year/ },
  { what: 'a cron with L', change: cron('0 0 L * *'), path: 'trigger.cron', message: /L, W, # or \?/ },
  { what: 'a cron minute out of range', change: cron('61 * * * *'), path: 'trigger.cron', message: /minute field "61": 61 is outside 0-59/ },
  { what: 'a cron backwards range', change: cron('0 0 5-1 * *'), path: 'trigger.cron', message: /ends before it starts/ },
  { what: 'a cron with @every', change: cron('@every 5m'), path: 'trigger.cron', message: /interval field/ },
  { what: 'a cron with a time zone prefix', change: cron('TZ=UTC 0 0 * * 0'), path: 'trigger.cron', message: /timezone field/ },
  { what: 'an unknown cron shorthand', change: cron('@fortnightly'), path: 'trigger.cron', message: /unknown shorthand/ },
  { what: 'a cron that is a number', change: cron(5), path: 'trigger.cron', message: /cron expression string/ },
  { what: 'an empty cron', change: cron(''), path: 'trigger.cron', message: /is empty/ },
  {
    what: 'cron and interval together',
    change: ['trigger', { type: 'ScheduledTrigger', cron: '0 0 * * 0', interval: '6h' }],
    path: 'trigger.interval',
    message: /either cron or interval, not both/,
  },
  { what: 'neither cron nor interval', change: ['trigger', { type: 'ScheduledTrigger' }], path: 'trigger.cron', message: /needs either cron/ },
  {
    what: 'an interval in words',
    change: ['trigger', { type: 'ScheduledTrigger', interval: '6 hours' }],
    path: 'trigger.interval',
    message: /is not an interval/,
  },
  { what: 'a zero interval', change: ['trigger', { type: 'ScheduledTrigger', interval: '0m' }], path: 'trigger.interval', message: /shorter than one second/ },
  {
    what: 'an unknown overlap policy',
    change: ['trigger', { type: 'ScheduledTrigger', cron: '0 0 * * 0', overlap_policy: 'queue' }],
    path: 'trigger.overlap_policy',
    message: /not an overlap policy: one of skip, buffer_one/,
  },
  {
    what: 'a catch-up window in words',
    change: ['trigger', { type: 'ScheduledTrigger', cron: '0 0 * * 0', catchup_window: 'an hour' }],
    path: 'trigger.catchup_window',
    message: /is not an interval/,
  },
  {
    what: 'an unknown time zone',
    change: ['trigger', { type: 'ScheduledTrigger', cron: '0 0 * * 0', timezone: 'Mars/Olympus' }],
    path: 'trigger.timezone',
    message: /not an IANA time zone/,
  },
  { what: 'a metric trigger without metric', change: metricTrigger({ metric: undefined }), path: 'trigger.metric', message: /is required/ },
  {
    what: 'a metric trigger with empty SQL',
    change: metricTrigger({ metric: { sql_query: '  ' } }),
    path: 'trigger.metric.sql_query',
    message: /must not be empty/,
  },
  {
    what: 'a metric trigger with a DELETE',
    change: metricTrigger({ metric: { sql_query: 'DELETE FROM predictions' } }),
    path: 'trigger.metric.sql_query',
    message: /single SELECT/,
  },
  {
    what: 'a metric trigger with an unknown direction',
    change: metricTrigger({ direction: 'UP' }),
    path: 'trigger.direction',
    message: /must be ABOVE or BELOW, not "UP"/,
  },
  { what: 'a metric trigger with a word threshold', change: metricTrigger({ threshold: 'high' }), path: 'trigger.threshold', message: /must be a number/ },
  {
    what: 'a metric trigger with a bad override_cron',
    change: metricTrigger({ override_cron: '*/15 * * *' }),
    path: 'trigger.override_cron',
    message: /4 fields/,
  },
  // Build
  { what: 'no action', change: ['action', undefined], path: 'action', message: /is required/ },
  { what: 'an unknown action type', change: ['action.type', 'Deploy'], path: 'action.type', message: /BuildDeploy/ },
  { what: 'no build_spec', change: [`${B}`, undefined], path: B, message: /is required/ },
  { what: 'no git_uri', change: [`${B}.git_uri`, undefined], path: `${B}.git_uri`, message: /is required/ },
  {
    what: 'a token inside git_uri',
    change: [`${B}.git_uri`, 'https://oauth2:ghp_abcdefghijklmnop@github.com/org/repo.git'],
    path: `${B}.git_uri`,
    message: /carries credentials.*git_access_token_secret/,
  },
  {
    what: 'a token as git_uri user',
    change: [`${B}.git_uri`, 'https://ghp_abcdefghijklmnop@github.com/org/repo.git'],
    path: `${B}.git_uri`,
    message: /carries credentials/,
  },
  { what: 'an ftp git_uri', change: [`${B}.git_uri`, 'ftp://example.com/repo.git'], path: `${B}.git_uri`, message: /scheme "ftp:" is not supported/ },
  { what: 'a git_uri that is not a URL', change: [`${B}.git_uri`, 'not a url'], path: `${B}.git_uri`, message: /not a repository URL/ },
  {
    what: 'a git_uri path with ..',
    change: [`${B}.git_uri`, 'https://github.com/org/repo.git#../other'],
    path: `${B}.git_uri`,
    message: /must not contain "\." or "\.\."/,
  },
  {
    what: 'a git_uri absolute path',
    change: [`${B}.git_uri`, 'https://github.com/org/repo.git#/etc'],
    path: `${B}.git_uri`,
    message: /relative to the repository root/,
  },
  {
    what: 'a token where the secret name belongs',
    change: [`${B}.git_access_token_secret`, 'ghp_abcdefghijklmnopqrstuvwx'],
    path: `${B}.git_access_token_secret`,
    message: /looks like a token itself/,
  },
  {
    what: 'a secret name with spaces',
    change: [`${B}.git_access_token_secret`, 'my secret'],
    path: `${B}.git_access_token_secret`,
    message: /not a secret name/,
  },
  { what: 'a bad branch name', change: [`${B}.git_branch`, 'feature..x'], path: `${B}.git_branch`, message: /not a valid git branch name/ },
  { what: 'an absolute main_dir', change: [`${B}.main_dir`, '/abs'], path: `${B}.main_dir`, message: /relative/ },
  { what: 'a main_dir going up', change: [`${B}.main_dir`, '../up'], path: `${B}.main_dir`, message: /without "\.\."/ },
  { what: 'a tag with a space', change: [`${B}.tags.0`, 'has space'], path: `${B}.tags[0]`, message: /is not a tag/ },
  { what: 'env_vars without =', change: [`${B}.env_vars.1`, 'novalue'], path: `${B}.env_vars[1]`, message: /has no "=": write "KEY=value"/ },
  { what: 'env_vars with a duplicate key', change: [`${B}.env_vars.2`, 'key1=again'], path: `${B}.env_vars[2]`, message: /"key1" is set twice/ },
  { what: 'env_vars with a bad key', change: [`${B}.env_vars.0`, '1ABC=x'], path: `${B}.env_vars[0]`, message: /not a valid variable name/ },
  {
    what: 'a credential in env_vars',
    change: [`${B}.env_vars.0`, 'API_TOKEN=abc'],
    path: `${B}.env_vars[0]`,
    message: /names a credential.*API_TOKEN=secret:<name>/,
  },
  { what: 'env_vars as one string', change: [`${B}.env_vars`, 'a=b'], path: `${B}.env_vars`, message: /must be an array, not a string/ },
  { what: 'an env secret reference with a bad name', change: [`${B}.env_vars.0`, 'X=secret:bad name'], path: `${B}.env_vars[0]`, message: /not a secret name/ },
  {
    what: 'an unknown resources type',
    change: [`${B}.resources`, { type: 'TpuResources' }],
    path: `${B}.resources.type`,
    message: /not one of CpuResources, GpuResources, ClientResources/,
  },
  {
    what: 'negative cpu_fraction',
    change: [`${B}.resources`, { type: 'CpuResources', cpu_fraction: -1, memory: '2Gi' }],
    path: `${B}.resources.cpu_fraction`,
    message: /greater than 0/,
  },
  {
    what: 'memory in decimal units',
    change: [`${B}.resources`, { type: 'CpuResources', cpu_fraction: 1, memory: '2GB' }],
    path: `${B}.resources.memory`,
    message: /binary units only: write "2Gi"/,
  },
  {
    what: 'an unknown GPU',
    change: [`${B}.resources`, { type: 'GpuResources', gpu_type: 'RTX4090', gpu_amount: 1 }],
    path: `${B}.resources.gpu_type`,
    message: /not a GPU type/,
  },
  {
    what: 'zero GPUs',
    change: [`${B}.resources`, { type: 'GpuResources', gpu_type: 'NVIDIA_T4', gpu_amount: 0 }],
    path: `${B}.resources.gpu_amount`,
    message: /greater than 0/,
  },
  {
    what: 'an instance size not in the table',
    change: [`${B}.resources`, { type: 'ClientResources', instance: 'mediun' }],
    path: `${B}.resources.instance`,
    message: /did you mean "medium"/,
  },
  { what: 'an IAM role that is not an ARN', change: [`${B}.assumed_iam_role`, 'role/admin'], path: `${B}.assumed_iam_role`, message: /not an IAM role ARN/ },
  { what: 'push_image as yes', change: [`${B}.push_image`, 'yes'], path: `${B}.push_image`, message: /true or false/ },
  {
    what: 'nested parameters',
    change: [`${B}.parameters`, { depth: { x: 1 } }],
    path: `${B}.parameters.depth`,
    message: /must be a string, a number or a boolean/,
  },
  {
    what: 'a dependency file outside the model',
    change: [`${B}.dependency_file_path`, '../requirements.txt'],
    path: `${B}.dependency_file_path`,
    message: /without "\.\."/,
  },
  { what: 'a bad base image', change: [`${B}.base_image`, 'Not An Image!'], path: `${B}.base_image`, message: /not a container image reference/ },
  // Deployment condition
  {
    what: 'a condition without type',
    change: [C, { metric_name: 'f1', direction: 'ABOVE', threshold: '0.6' }],
    path: `${C}.type`,
    message: /is required: one of BuildMetric, DeployedBuildMetric \(did you mean type: BuildMetric\?\)/,
  },
  { what: 'a numeric threshold', change: [`${C}.threshold`, 0.65], path: `${C}.threshold`, message: /must be a string: write "0.65" in quotes/ },
  { what: 'an empty threshold', change: [`${C}.threshold`, ''], path: `${C}.threshold`, message: /is empty/ },
  { what: 'a blank SQL threshold', change: [`${C}.threshold`, '   '], path: `${C}.threshold`, message: /is empty/ },
  { what: 'a threshold that is neither', change: [`${C}.threshold`, 'abc'], path: `${C}.threshold`, message: /neither a number .* nor a SQL query/ },
  {
    what: 'a threshold of two statements',
    change: [`${C}.threshold`, 'SELECT 1; DROP TABLE x'],
    path: `${C}.threshold`,
    message: /more than one SQL statement/,
  },
  { what: 'an unknown direction', change: [`${C}.direction`, 'SIDEWAYS'], path: `${C}.direction`, message: /must be ABOVE or BELOW/ },
  { what: 'a metric name with a space', change: [`${C}.metric_name`, 'f1 score'], path: `${C}.metric_name`, message: /not a metric name/ },
  {
    what: 'a threshold on DeployedBuildMetric',
    change: [C, { type: 'DeployedBuildMetric', metric_name: 'f1', direction: 'ABOVE', threshold: '0.6' }],
    path: `${C}.threshold`,
    message: /unknown key "threshold"/,
  },
  // Deployment
  { what: 'zero pods', change: [`${D}.number_of_pods`, 0], path: `${D}.number_of_pods`, message: /greater than 0/ },
  { what: 'half a pod', change: [`${D}.number_of_pods`, 1.5], path: `${D}.number_of_pods`, message: /whole number/ },
  { what: 'cpu_fraction in words', change: [`${D}.cpu_fraction`, 'two'], path: `${D}.cpu_fraction`, message: /number of CPU cores/ },
  { what: 'memory in words', change: [`${D}.memory`, '2 gigs'], path: `${D}.memory`, message: /not a memory size/ },
  { what: 'negative memory', change: [`${D}.memory`, -5], path: `${D}.memory`, message: /whole, positive number of MiB/ },
  { what: 'a fraction of a MiB', change: [`${D}.memory`, '0.5Mi'], path: `${D}.memory`, message: /whole, positive number of MiB/ },
  { what: 'a variation with a slash', change: [`${D}.variation_name`, 'b/c'], path: `${D}.variation_name`, message: /letters, digits/ },
  { what: 'a negative request timeout', change: [`${D}.http_request_timeout_ms`, -1], path: `${D}.http_request_timeout_ms`, message: /greater than 0/ },
  {
    what: 'an ARN with a short account',
    change: [`${D}.custom_iam_role_arn`, 'arn:aws:iam::123:role/x'],
    path: `${D}.custom_iam_role_arn`,
    message: /not an IAM role ARN/,
  },
  { what: 'zero batch size', change: [`${D}.max_batch_size`, 0], path: `${D}.max_batch_size`, message: /greater than 0/ },
  {
    what: 'a timeout as a duration string',
    change: [`${D}.deployment_process_timeout_limit`, '10m'],
    path: `${D}.deployment_process_timeout_limit`,
    message: /must be a number/,
  },
  { what: 'an environment listed twice', change: [`${D}.environments`, ['prod', 'prod']], path: `${D}.environments[1]`, message: /listed twice/ },
  { what: 'an environment with a space', change: [`${D}.environments`, ['Prod Env']], path: `${D}.environments[0]`, message: /lower-case/ },
  { what: 'a misspelt deployment key', change: [`${D}.memroy`, '2Gi'], path: `${D}.memroy`, message: /did you mean "memory"/ },
  // Autoscaling
  {
    what: 'min_replica_count above max',
    change: [`${A}.min_replica_count`, 11],
    path: `${A}.min_replica_count`,
    message: /11 is more than max_replica_count \(10\)/,
  },
  { what: 'no autoscaling triggers', change: [`${A}.triggers`, []], path: `${A}.triggers`, message: /at least one trigger/ },
  {
    what: 'a zero time_period',
    change: [`${A}.triggers.0.query_spec.time_period`, 0],
    path: `${A}.triggers[0].query_spec.time_period`,
    message: /greater than 0/,
  },
  {
    what: 'an unknown aggregation',
    change: [`${A}.triggers.0.query_spec.aggregation_type`, 'median'],
    path: `${A}.triggers[0].query_spec.aggregation_type`,
    message: /not an aggregation/,
  },
  {
    what: 'an unknown scaling metric',
    change: [`${A}.triggers.0.query_spec.metric_type`, 'disk'],
    path: `${A}.triggers[0].query_spec.metric_type`,
    message: /not a metric type/,
  },
  { what: 'a negative scaling threshold', change: [`${A}.triggers.0.threshold`, -1], path: `${A}.triggers[0].threshold`, message: /greater than 0/ },
  { what: 'a zero polling interval', change: [`${A}.polling_interval`, 0], path: `${A}.polling_interval`, message: /greater than 0/ },
  { what: 'no max_replica_count', change: [`${A}.max_replica_count`, undefined], path: `${A}.max_replica_count`, message: /is required/ },
  // Notifications
  {
    what: 'a literal Slack webhook',
    change: ['on_error', { type: 'SlackNotification', webhook: 'https://hooks.slack.com/services/T0/B0/XYZ' }],
    path: 'on_error.webhook',
    message: /carries its token.*\{ secret: <name> \}/,
  },
  {
    what: 'a webhook URL with a token',
    change: webhook({ url: 'https://hooks.example.com/x?token=abc' }),
    path: 'on_error.url',
    message: /carries a credential/,
  },
  {
    what: 'an instance named like a prototype key',
    change: [`${B}.resources`, { type: 'ClientResources', instance: 'constructor' }],
    path: `${B}.resources.instance`,
    message: /not an instance size/,
  },
  {
    what: 'a literal Authorization header',
    change: webhook({ headers: { Authorization: 'Bearer abc' } }),
    path: 'on_error.headers.Authorization',
    message: /carries a credential/,
  },
  {
    what: 'a header that is a number',
    change: webhook({ headers: { 'X-Team': 7 } }),
    path: 'on_error.headers.X-Team',
    message: /must be a string, or \{ secret: <name> \}/,
  },
  {
    what: 'a header name with a space',
    change: webhook({ headers: { 'X Team': 'ml' } }),
    path: 'on_error.headers["X Team"]',
    message: /is not an HTTP header name/,
  },
  {
    what: 'an unknown body placeholder',
    change: webhook({ data: '{"build": "{{buildid}}"}' }),
    path: 'on_error.data',
    message: /\{\{buildid\}\} is not a known placeholder/,
  },
  { what: 'an unsupported HTTP method', change: webhook({ http_method: 'DELETE' }), path: 'on_error.http_method', message: /GET, POST, PUT or PATCH/ },
  {
    what: 'an unknown notification type',
    change: ['on_success', { type: 'Email', to: 'a@b.c' }],
    path: 'on_success.type',
    message: /not one of SlackNotification, CustomWebhook/,
  },
  { what: 'a definition that is a list', change: () => [validInput()], path: '', message: /must be an object, not a list/ },
];

describe('validation of bad inputs', () => {
  it('has at least 60 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.what, c] as const))('rejects %s, naming the field', (_what, badCase) => {
    const input = validInput();
    const changed = typeof badCase.change === 'function' ? (badCase.change(input) ?? input) : withChange(input, ...badCase.change);
    const result = validateAutomation(changed);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.errors.map((error) => `${formatPath(error.path)}: ${error.message}`);
    expect(messages).toContainEqual(expect.stringMatching(new RegExp(`^${escape(badCase.path)}: .*${badCase.message.source}`)));
  });

  it('accepts the template unchanged (so each case fails only because of its change)', () => {
    expect(validateAutomation(validInput())).toMatchObject({ ok: true });
  });

  it('never echoes a token into an error message', () => {
    const token = 'ghp_abcdefghijklmnopqrstuvwx';
    const input = withChange(validInput(), 'action.build_spec.git_uri', `https://x:${token}@github.com/org/repo.git`);
    withChange(input, 'action.build_spec.git_access_token_secret', token);
    withChange(input, 'action.build_spec.env_vars', [`GH_TOKEN=${token}`, `OTHER=${token}`]);
    const result = validateAutomation(input);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(token);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
