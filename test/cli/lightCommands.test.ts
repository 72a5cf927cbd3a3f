// `refit schema` and `refit validate` are the commands people run most, in editors and CI: they load the
// automation model and nothing of Temporal's worker, Kubernetes or the analytics drivers.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';
import { readRunState } from '../harness/runState.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-loaded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every module a command loads, as resolved (a module resolve hook records each). */
async function modulesLoadedBy(...args: string[]): Promise<string[]> {
  return modulesLoadedWith({}, ...args);
}

async function modulesLoadedWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string[]> {
  const log = path.join(dir, `${args[0]}.log`);
  const hook = path.join(dir, 'hook.mjs');
  const register = path.join(dir, 'register.mjs');
  writeFileSync(
    hook,
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const result = await next(specifier, context);\n  appendFileSync(${JSON.stringify(log)}, result.url + '\\n');\n  return result;\n}\n`,
  );
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  await run(process.execPath, ['--import', register, path.join(packageRoot(), 'dist', 'client', 'cli.js'), ...args], {
    cwd: packageRoot(),
    env: { ...process.env, ...env },
  }).catch((err: { code?: number }) => {
    // `describe` of an automation that is not registered exits 1 once it has asked Temporal: loaded all the same.
    if (err.code !== 1) throw err;
  });
  return readFileSync(log, 'utf8').trim().split('\n');
}

describe('light commands', () => {
  it.each([['schema'], ['validate', 'examples/seed.yaml']])(
    'refit %s loads neither the Temporal worker nor Kubernetes, DuckDB or PostgreSQL',
    async (...args) => {
      const loaded = await modulesLoadedBy(...args);
      expect(loaded.length).toBeGreaterThan(10);
      expect(loaded.filter((url) => /@temporalio\/(worker|core-bridge)|@kubernetes|@duckdb|node_modules\/pg\//.test(url))).toEqual([]);
    },
  );

  // Commands that only ask Temporal start with the client alone: the definition parser (YAML, the schema's
  // loader) is for the commands that read files.
  it.each([['list'], ['describe', 'no-such-automation']])('refit %s loads the Temporal client but not the definition parser', async (...args) => {
    const loaded = await modulesLoadedWith({ TEMPORAL_ADDRESS: readRunState().address, NO_COLOR: '1' }, ...args);
    expect(loaded.some((url) => /@temporalio\/client/.test(url))).toBe(true);
    expect(loaded.filter((url) => /node_modules\/yaml\/|\/spec\/(loader|yaml)\.js$/.test(url))).toEqual([]);
  });
});
