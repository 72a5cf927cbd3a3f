import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';

const run = promisify(execFile);

describe('refit logs', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-logs-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const refit = (...args: string[]) =>
    run(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), ...args], { env: { ...process.env, REFIT_HOME: home } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  it('prints the kept build log of a build', async () => {
    mkdirSync(path.join(home, 'builds', 'm-0123456789ab'), { recursive: true });
    writeFileSync(path.join(home, 'builds', 'm-0123456789ab', 'build.log'), '== build ==\ntraining…\nOK\n');
    expect(await refit('logs', 'm-0123456789ab')).toMatchObject({ code: 0, stdout: '== build ==\ntraining…\nOK\n' });
  });

  it('says where build logs are when this machine has none for the build', async () => {
    const missing = await refit('logs', 'm-ffffffffffff');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no build log of m-ffffffffffff on this machine .*stays on the machine of the worker that built it/);
  });
});
