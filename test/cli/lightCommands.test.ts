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

/** Every module a command loads: as imported (a module resolve hook records each) and as required (require's cache at exit). */
async function modulesLoadedBy(...args: string[]): Promise<string[]> {
  const { imported, required } = await modulesLoadedWith({}, ...args);
  return [...imported, ...required];
}

async function modulesLoadedWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ imported: string[]; required: string[] }> {
  const log = path.join(dir, `${args[0]}.log`);
  const requiredLog = path.join(dir, `${args[0]}.required.log`);
  const hook = path.join(dir, 'hook.mjs');
  const register = path.join(dir, 'register.mjs');
  const exitHook = path.join(dir, 'required.cjs');
  writeFileSync(
    hook,
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const result = await next(specifier, context);\n  appendFileSync(${JSON.stringify(log)}, result.url + '\\n');\n  return result;\n}\n`,
  );
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  writeFileSync(
    exitHook,
    `process.on('exit', () => require('node:fs').writeFileSync(process.env.REFIT_TEST_REQUIRED_LOG, Object.keys(require.cache).join('\\n') + '\\n'));\n`,
  );
  await run(process.execPath, ['--require', exitHook, '--import', register, path.join(packageRoot(), 'dist', 'client', 'cli.js'), ...args], {
    cwd: packageRoot(),
    env: { ...process.env, ...env, REFIT_TEST_REQUIRED_LOG: requiredLog },
  }).catch((err: { code?: number }) => {
    // `describe` of an automation that is not registered exits 1 once it has asked Temporal: loaded all the same.
    if (err.code !== 1) throw err;
  });
  const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
  return { imported: lines(log), required: lines(requiredLog) };
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
  // loader) is for the commands that read files. The client is required, not imported: an ESM import of a
  // CommonJS package first scans it and every module it re-exports for export names.
  it.each([['list'], ['describe', 'no-such-automation']])('refit %s loads the Temporal client but not the definition parser', async (...args) => {
    const { imported, required } = await modulesLoadedWith({ TEMPORAL_ADDRESS: readRunState().address, NO_COLOR: '1' }, ...args);
    expect(required.some((file) => /@temporalio\/client\//.test(file))).toBe(true);
    expect(imported.filter((url) => /@temporalio\/(client|common|envconfig)\//.test(url))).toEqual([]);
    expect([...imported, ...required].filter((url) => /node_modules\/yaml\/|\/spec\/(loader|yaml)\.js$/.test(url))).toEqual([]);
  });
});
