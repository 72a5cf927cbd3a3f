// `refit describe --manifests`, run as a user runs it: the real CLI in a child process, no cluster.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { packageRoot } from '../../platform/paths.js';

const run = promisify(execFile);
const root = packageRoot();
const cli = path.join(root, 'dist', 'client', 'cli.js');

async function refit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REFIT_'))) as Record<string, string>;
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: root, env: { ...clean, NO_COLOR: '1', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const objectsIn = (yaml: string) =>
  parseAllDocuments(yaml).map((document) => document.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: any });

describe('refit describe --manifests', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'refit-manifests-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('prints the objects a deploy of the seed would apply, as YAML, with a placeholder build id', async () => {
    const { code, stdout, stderr } = await refit(['describe', '--manifests', 'examples/seed.yaml']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^# The Kubernetes objects a deploy would apply .*Nothing was applied and no cluster was read\.\n# <build-id> stands for the id of the build each run makes/,
    );
    expect(stdout).not.toMatch(/&a\d|\*a\d/);
    const objects = objectsIn(stdout);
    expect(objects.map((object) => `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`)).toEqual([
      'ServiceAccount/default/my-model-id-b',
      'Deployment/default/my-model-id-b',
      'Service/default/my-model-id',
    ]);
    const deployment = objects[1]!;
    expect(deployment.spec.replicas).toBe(1);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('<image-repository>/my-model-id:<build-id>');
    expect(container.resources.limits).toEqual({ cpu: '2', memory: '2Gi' });
    expect(deployment.spec.template.metadata.labels).toMatchObject({ 'refit.dev/variation': 'B', 'refit.dev/build': '<build-id>' });
  });

  it("shows an A/B test's HTTPRoute and a ScaledObject, in each environment's namespace, with the worker's settings", async () => {
    const automation = (variation: string, extra: string) => `
name: churn-${variation.toLowerCase()}
model_id: churn
trigger: { type: ScheduledTrigger, cron: "0 3 * * *" }
action:
  build_spec: { git_uri: "https://git.example.invalid/models.git" }
  deployment_spec:
    variation_name: ${variation}
    environments: [staging]
${extra}`;
    writeFileSync(path.join(work, 'a.yaml'), automation('A', ''));
    writeFileSync(
      path.join(work, 'b.yaml'),
      automation(
        'B',
        '    auto_scale_config: { max_replica_count: 5, triggers: [{ query_spec: { aggregation_type: p95, metric_type: latency, time_period: 2 }, threshold: 250 }] }',
      ),
    );
    const { code, stdout } = await refit(['describe', '--manifests', work], {
      REFIT_IMAGE_REPOSITORY: 'ghcr.io/acme/models',
      REFIT_PROMETHEUS_URL: 'http://prom:9090',
      REFIT_GATEWAY: 'gateways/public',
    });
    expect(code).toBe(0);
    const objects = objectsIn(stdout);
    expect(objects.every((object) => object.metadata.namespace === 'staging')).toBe(true);
    const routes = objects.filter((object) => object.kind === 'HTTPRoute');
    expect(routes).toHaveLength(2);
    expect(routes[0]!.spec.parentRefs).toEqual([{ namespace: 'gateways', name: 'public' }]);
    expect(routes[0]!.spec.rules.at(-1).backendRefs).toEqual([
      { name: 'churn-a', port: 80, weight: 1 },
      { name: 'churn-b', port: 80, weight: 1 },
    ]);
    const scaledObject = objects.find((object) => object.kind === 'ScaledObject')!;
    expect(scaledObject.spec.triggers[0].metadata).toMatchObject({ serverAddress: 'http://prom:9090', threshold: '250' });
    expect(objects.find((object) => object.kind === 'Deployment')!.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/models/churn:<build-id>');
  });

  it('prints nothing but the problems when a definition is invalid, and keeps `describe <automation>` to one name', async () => {
    writeFileSync(path.join(work, 'bad.yaml'), 'name: bad\nmodel_id: bad\n');
    const bad = await refit(['describe', '--manifests', path.join(work, 'bad.yaml')]);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toContain('no manifests printed');
    const usage = await refit(['describe', 'one', 'two']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('describe takes one automation (files and folders only with --manifests)');
  });
});
