import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';
import { automationJsonSchema } from '../../spec/jsonSchema.js';
import { loadDefinitions } from '../../spec/loader.js';

const examples = path.join(packageRoot(), 'examples');

describe("the seed's example", () => {
  it('validates in TypeScript and in YAML, and both give the same model', async () => {
    const fromTs = await loadDefinitions([path.join(examples, 'seed.ts')]);
    const fromYaml = await loadDefinitions([path.join(examples, 'seed.yaml')]);
    expect(fromTs.errors).toEqual([]);
    expect(fromYaml.errors).toEqual([]);
    expect(fromTs.automations).toHaveLength(1);
    expect(fromYaml.automations).toHaveLength(1);
    expect(fromTs.automations[0]!.automation).toEqual(fromYaml.automations[0]!.automation);
  });

  it('keeps every value the seed gives and fills in the defaults', async () => {
    const { automations } = await loadDefinitions([path.join(examples, 'seed.yaml')]);
    const model = automations[0]!.automation;
    expect(model).toMatchObject({
      name: 'retrain_my_model',
      model_id: 'my-model-id',
      is_enabled: true,
      trigger: { type: 'ScheduledTrigger', cron: '0 0 * * 0', timezone: 'UTC' },
      action: {
        type: 'BuildDeploy',
        build_spec: {
          git_uri: 'https://github.com/org_id/repository_name.git#dir_1/dir_2',
          git_access_token_secret: 'token_secret_name',
          git_branch: 'main',
          main_dir: 'main',
          tags: ['prod'],
          env_vars: ['key1=val1', 'key2=val2', 'key3=val3'],
          push_image: true,
        },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: {
          number_of_pods: 1,
          cpu_fraction: 2,
          memory: '2Gi',
          variation_name: 'B',
          number_of_http_server_workers: 2,
          http_request_timeout_ms: 5000,
          max_batch_size: 1,
        },
      },
    });
  });

  it('has a committed JSON Schema that is the one generated from the zod schemas', () => {
    const committed = JSON.parse(readFileSync(path.join(packageRoot(), 'schema', 'automation.schema.json'), 'utf8'));
    expect(committed).toEqual(automationJsonSchema());
  });
});
