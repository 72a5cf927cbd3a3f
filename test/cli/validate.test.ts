import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';

const run = promisify(execFile);
const root = packageRoot();
const cli = path.join(root, 'dist', 'client', 'cli.js');

/** Runs the real `refit` CLI as a user would, from the repository root. */
async function refit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('refit validate', () => {
  it('on a folder of good and bad files prints every error with file, line and column, and exits non-zero', async () => {
    const { code, stdout } = await refit('validate', 'test/fixtures/definitions', '--allow-code');
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    // The good automations, one summary line each, from YAML (one and several per file) and TypeScript.
    expect(lines).toContainEqual(expect.stringMatching(/^✓ weekly-churn +model churn · cron "0 3 \* \* mon" Europe\/Berlin \(At 03:00, only on Monday; next /));
    expect(lines).toContainEqual(expect.stringMatching(/^✓ hourly-fraud +model fraud · every 6h/));
    expect(lines).toContainEqual(expect.stringMatching(/^✓ on-demand-ranker +model ranker · on demand only .*deploys if ndcg above 0.4/));
    // Every error, not only the first of each file.
    const errors = lines.filter((line) => line.includes('  error  '));
    expect(errors).toEqual(
      expect.arrayContaining([
        'test/fixtures/definitions/broken-syntax.yaml:4:1  error  YAML syntax: Flow map in block collection must be sufficiently indented and end with a }',
        'test/fixtures/definitions/several.yaml:18:5  error  action.build_spec.resource: unknown key "resource": did you mean "resources"?',
        'test/fixtures/definitions/several.yaml:20:5  error  action.deployment_spec.memory: "4GB" is not a memory size (binary units only: write "4Gi")',
        'test/fixtures/definitions/several.yaml:24:79  error  action.deployment_spec.auto_scale_config.triggers[0].query_spec.time_period: must be greater than 0',
        'test/fixtures/definitions/several.yaml:22:7  error  action.deployment_spec.auto_scale_config.min_replica_count: 4 is more than max_replica_count (2)',
        'test/fixtures/definitions/throws.ts  error  could not load this module: Error: this definition file fails on import',
        expect.stringMatching(
          /^test\/fixtures\/definitions\/typed\.ts \(wrong\) {2}error {2}action\.deployment_condition\.threshold: must be a string: write "0\.4" in quotes/,
        ),
      ]),
    );
    expect(errors).toHaveLength(7);
    expect(lines.at(-1)).toBe('7 errors in 4 files; 3 valid automations in 6 files');
  });

  it('shows a YAML syntax error once, at its cause, with the line and a caret', async () => {
    const { code, stdout } = await refit('validate', 'test/fixtures/definitions/broken-syntax.yaml');
    expect(code).toBe(1);
    expect(stdout.split('\n').slice(0, 3)).toEqual([
      'test/fixtures/definitions/broken-syntax.yaml:4:1  error  YAML syntax: Flow map in block collection must be sufficiently indented and end with a }',
      '    4 | action: {}',
      '        ^',
    ]);
    expect(stdout.match(/ {2}error {2}/g)).toHaveLength(1);
  });

  it('prints the same as JSON with --json', async () => {
    const { code, stdout } = await refit('validate', 'test/fixtures/definitions', '--json', '--allow-code');
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(false);
    expect(result.automations.map((a: { name: string }) => a.name).sort()).toEqual(['hourly-fraud', 'on-demand-ranker', 'weekly-churn']);
    expect(result.errors).toContainEqual({
      file: 'test/fixtures/definitions/several.yaml',
      definition: '#2',
      line: 20,
      column: 5,
      path: 'action.deployment_spec.memory',
      message: '"4GB" is not a memory size (binary units only: write "4Gi")',
      severity: 'error',
    });
  });

  it('exits 0 with one line per automation on valid files, in both formats of the seed', async () => {
    for (const file of ['examples/seed.ts', 'examples/seed.yaml']) {
      const { code, stdout } = await refit('validate', file);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^✓ retrain_my_model +model my-model-id · cron "0 0 \* \* 0" UTC \(At 00:00, only on Sunday; next \d{4}-\d\d-\d\d 00:00 UTC\)/);
      expect(stdout.trim().split('\n').at(-1)).toBe('1 valid automation in 1 file');
    }
  });

  it('says what is wrong with the command line and exits 2', async () => {
    expect((await refit('validate')).code).toBe(2);
    expect((await refit('validate', 'no/such/place')).stdout).toContain('no/such/place  error  no such file or folder');
  });

  it('prints the JSON Schema', async () => {
    const { code, stdout } = await refit('schema');
    expect(code).toBe(0);
    const schema = JSON.parse(stdout);
    expect(schema.title).toBe('Refit automation');
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'model_id', 'trigger', 'action']));
  });
});
