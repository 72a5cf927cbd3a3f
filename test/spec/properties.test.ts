import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { looksLikeATokenValue, steeringKeyProblem } from '../../spec/schema/common.js';
import { validateAutomation } from '../../spec/validate.js';
import { parseYamlDefinitions, toYaml } from '../../spec/yaml.js';
import { validInput } from './validTemplate.js';

// Arbitraries for well-formed automation definitions: every kind of trigger, resource, condition and
// notification, optional fields present or absent.
// Strings are built from character sets: fc.stringMatching is two orders of magnitude slower under jest.
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const chars = (set: string, minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...set), minLength, maxLength });
const edged = (edge: string, middle: string, maxMiddle: number) =>
  fc
    .tuple(chars(edge, 1, 1), fc.option(fc.tuple(chars(middle, 0, maxMiddle), chars(edge, 1, 1)), { nil: undefined }))
    .map(([first, tail]) => first + (tail ? tail[0] + tail[1] : ''));
const identifier = edged(LOWER + DIGITS, LOWER + DIGITS + '_-', 20);
// A name shaped like a token ("sk-…", "ghp_…") is refused on purpose: well-formed models do not use one.
const secretName = edged(LOWER, LOWER + DIGITS + '_.-', 15).filter((name) => !looksLikeATokenValue(name));
const envKey = fc
  .tuple(chars(LOWER.toUpperCase(), 1, 1), chars(LOWER.toUpperCase() + DIGITS + '_', 0, 10))
  .map(([a, b]) => a + b)
  .filter((key) => !/(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)$/.test(key))
  // Names that steer the loader, an interpreter or Refit (LD_…, PATH, PYTHONPATH) are refused on purpose too.
  .filter((key) => steeringKeyProblem(key) === undefined);
const envVars = fc.uniqueArray(envKey, { maxLength: 4 }).chain((keys) =>
  fc.tuple(
    ...keys.map((key) =>
      fc
        .oneof(
          chars(LOWER + DIGITS + ' ._:/-', 0, 12).filter((value) => !looksLikeATokenValue(value)),
          secretName.map((name) => `secret:${name}`),
        )
        .map((value) => `${key}=${value}`),
    ),
  ),
);
const cronField = (max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min: 0, max }).map(String),
    fc.integer({ min: 1, max: 9 }).map((step) => `*/${step}`),
  );
const cron = fc.oneof(
  fc
    .tuple(
      cronField(59),
      cronField(23),
      fc.constantFrom('*', '1', '15', '1-7'),
      fc.constantFrom('*', '1', 'jan', '3-6'),
      fc.constantFrom('*', '0', 'mon-fri', '6'),
    )
    .map((fields) => fields.join(' ')),
  fc.constantFrom('@hourly', '@daily', '@weekly', '@monthly', '@yearly'),
);
const direction = fc.constantFrom('ABOVE', 'BELOW');
const decimal = fc.double({ min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true }).map((value) => Number(value.toFixed(3)));
const trigger = fc.oneof(
  fc.record(
    {
      type: fc.constant('ScheduledTrigger'),
      cron,
      timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
      overlap_policy: fc.constantFrom('skip', 'buffer_one', 'allow_all'),
      catchup_window: fc.constantFrom('10m', '1h', '1d'),
    },
    { requiredKeys: ['type', 'cron'] },
  ),
  fc.record({ type: fc.constant('ScheduledTrigger'), interval: fc.constantFrom('15m', '6h', '1d', '90s', '2w', 'Hourly', 'Daily', 'Weekly') }),
  fc.record(
    {
      type: fc.constant('MetricBasedTrigger'),
      name: identifier,
      metric: fc.record({ sql_query: fc.constantFrom('SELECT avg(score) FROM predictions', 'WITH x AS (SELECT 1 AS v) SELECT v FROM x') }),
      direction,
      threshold: decimal,
      override_cron: cron,
    },
    { requiredKeys: ['type', 'name', 'metric', 'direction', 'threshold'] },
  ),
  fc.constant({ type: 'NoneTrigger' }),
);
const memory = fc.oneof(
  fc.integer({ min: 1, max: 65536 }),
  fc.integer({ min: 1, max: 64 }).map((gi) => `${gi}Gi`),
  fc.integer({ min: 1, max: 4096 }).map((mi) => `${mi}Mi`),
);
const resources = fc.oneof(
  fc.record({ type: fc.constant('CpuResources'), cpu_fraction: fc.double({ min: 0.1, max: 64, noNaN: true }).map((v) => Number(v.toFixed(2))), memory }),
  fc.record({
    type: fc.constant('GpuResources'),
    gpu_type: fc.constantFrom('NVIDIA_T4', 'NVIDIA_A10G', 'NVIDIA_A100'),
    gpu_amount: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ type: fc.constant('ClientResources'), instance: fc.constantFrom('small', 'medium', 'gpu.a10.8xl') }),
);
const buildSpec = fc.record(
  {
    git_uri: fc
      .tuple(
        fc.constantFrom('https://github.com/org/repo.git', 'http://127.0.0.1:8080/models.git', 'git@github.com:org/repo.git'),
        fc.constantFrom('', '#models/churn', '#a/b/c'),
      )
      .map(([repo, dir]) => repo + dir),
    git_access_token_secret: secretName,
    git_branch: fc.constantFrom('main', 'release/1.0', 'dev'),
    main_dir: fc.constantFrom('main', 'src/model'),
    tags: fc.array(chars(LOWER + DIGITS + '.-', 1, 8), { maxLength: 3 }),
    env_vars: envVars,
    resources,
    push_image: fc.boolean(),
    parameters: fc.dictionary(edged(LOWER + '_', LOWER + DIGITS + '_', 8), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()), { maxKeys: 3 }),
  },
  { requiredKeys: ['git_uri'] },
);
const condition = fc.oneof(
  fc.record({
    type: fc.constant('BuildMetric'),
    metric_name: fc.constantFrom('f1_score', 'accuracy', 'loss'),
    direction,
    threshold: fc.oneof(decimal.map(String), fc.constant('SELECT avg(f1) FROM builds')),
  }),
  fc.record({ type: fc.constant('DeployedBuildMetric'), metric_name: fc.constantFrom('f1_score', 'auc'), direction }),
);
const autoscaling = fc.integer({ min: 0, max: 5 }).chain((min) =>
  fc.record({
    min_replica_count: fc.constant(min),
    max_replica_count: fc.integer({ min: Math.max(1, min), max: 50 }),
    polling_interval: fc.integer({ min: 1, max: 600 }),
    cool_down_period: fc.integer({ min: 0, max: 3600 }),
    triggers: fc.array(
      fc.record({
        query_spec: fc.record({
          aggregation_type: fc.constantFrom('min', 'max', 'avg', 'sum', 'p95'),
          metric_type: fc.constantFrom('cpu', 'gpu', 'memory', 'latency'),
          time_period: fc.integer({ min: 1, max: 60 }),
        }),
        threshold: fc.integer({ min: 1, max: 1000 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);
const deploymentSpec = fc.record(
  {
    number_of_pods: fc.integer({ min: 1, max: 20 }),
    cpu_fraction: fc.constantFrom(0.5, 1, 2, 4),
    memory,
    variation_name: fc.constantFrom('default', 'A', 'B', 'challenger'),
    number_of_http_server_workers: fc.integer({ min: 1, max: 16 }),
    http_request_timeout_ms: fc.integer({ min: 1, max: 60_000 }),
    daemon_mode: fc.boolean(),
    custom_iam_role_arn: fc.constant('arn:aws:iam::123456789012:role/model-serving'),
    max_batch_size: fc.integer({ min: 1, max: 512 }),
    deployment_process_timeout_limit: fc.integer({ min: 1, max: 7200 }),
    environments: fc.uniqueArray(identifier, { maxLength: 3 }),
    env_vars: envVars,
    auto_scale_config: autoscaling,
  },
  { requiredKeys: [] },
);
const notification = fc.oneof(
  fc.record({ type: fc.constant('SlackNotification'), webhook: secretName.map((secret) => ({ secret })) }),
  fc.record({
    type: fc.constant('CustomWebhook'),
    url: fc.constantFrom('https://hooks.example.com/refit', 'http://127.0.0.1:9000/notify'),
    http_method: fc.constantFrom('POST', 'PUT'),
    headers: fc.constant({ 'Content-Type': 'application/json', Authorization: { secret: 'hook_auth' } }),
    data: fc.constant('{"automation": "{{automation}}", "outcome": "{{outcome}}", "run": "{{run_url}}"}'),
  }),
);
const automation = fc.record(
  {
    name: identifier,
    model_id: identifier,
    description: fc.string({ maxLength: 40 }),
    trigger,
    action: fc.record(
      { type: fc.constantFrom('BuildDeploy', 'QwakBuildDeploy'), build_spec: buildSpec, deployment_condition: condition, deployment_spec: deploymentSpec },
      { requiredKeys: ['build_spec'] },
    ),
    is_enabled: fc.boolean(),
    execute_immediately: fc.boolean(),
    on_error: notification,
    on_success: notification,
  },
  { requiredKeys: ['name', 'model_id', 'trigger', 'action'] },
);

function reparse(yaml: string): unknown {
  const parsed = parseYamlDefinitions(yaml);
  if ('syntaxErrors' in parsed) throw new Error(`the YAML Refit wrote does not parse: ${JSON.stringify(parsed.syntaxErrors)}`);
  expect(parsed.documents).toHaveLength(1);
  return parsed.documents[0]!.data;
}

describe('property: well-formed models round-trip YAML → model → YAML', () => {
  it('validates every generated model, and its YAML gives back the same model and the same YAML', () => {
    fc.assert(
      fc.property(automation, (input) => {
        const first = validateAutomation(reparse(toYaml(input)));
        if (!first.ok) throw new Error(`a well-formed model was rejected: ${JSON.stringify(first.errors)}\n${toYaml(input)}`);
        const yaml = toYaml(first.automation);
        const second = validateAutomation(reparse(yaml));
        expect(second.ok).toBe(true);
        if (!second.ok) return;
        expect(second.automation).toEqual(first.automation);
        expect(toYaml(second.automation)).toBe(yaml);
      }),
      { numRuns: 300 },
    );
  });
});

describe('property: random mutations never crash the validator', () => {
  type Json = unknown;
  const paths = (value: Json, prefix: (string | number)[] = []): (string | number)[][] => {
    if (Array.isArray(value)) return [prefix, ...value.flatMap((item, index) => paths(item, [...prefix, index]))];
    if (value && typeof value === 'object') return [prefix, ...Object.entries(value).flatMap(([key, item]) => paths(item, [...prefix, key]))];
    return [prefix];
  };
  const mutate = (input: Record<string, unknown>, path: (string | number)[], kind: string, replacement: unknown): unknown => {
    if (path.length === 0) return replacement;
    const copy = structuredClone(input);
    let node = copy as Record<string | number, unknown>;
    for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (kind === 'delete') delete node[last];
    else if (kind === 'rename' && typeof last === 'string') {
      node[`${last}x`] = node[last];
      delete node[last];
    } else node[last] = replacement;
    return copy;
  };

  it('accepts or rejects each mutant with messages, never throws', () => {
    fc.assert(
      fc.property(
        automation,
        fc.nat(),
        fc.constantFrom('replace', 'delete', 'rename'),
        fc.anything({ withNullPrototype: false }),
        (input, pick, kind, replacement) => {
          const candidates = paths(input);
          const mutant = mutate(input, candidates[pick % candidates.length]!, kind, replacement);
          const result = validateAutomation(mutant);
          if (!result.ok) {
            expect(result.errors.length).toBeGreaterThan(0);
            for (const error of result.errors) {
              expect(typeof error.message).toBe('string');
              expect(error.message.length).toBeGreaterThan(0);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('survives values of every type at every place of the seed', () => {
    fc.assert(
      fc.property(fc.nat(), fc.anything(), (pick, replacement) => {
        const input = validInput();
        const candidates = paths(input);
        expect(() => validateAutomation(mutate(input, candidates[pick % candidates.length]!, 'replace', replacement))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
