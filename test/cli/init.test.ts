// `refit init` as a new user runs it after the demo: the automation it writes validates, and runs to a deployed
// model on a real worker, against `refit dev`'s git server (the example model), and with --model against the local
// git repository it made (file://, which refit dev allows).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RefitClient } from '../../client/refitClient.js';
import { startDevGitServer, type DevGitServer } from '../../devstack/devGitServer.js';
import { freePort } from '../../platform/freePort.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import { loadDefinitions } from '../../spec/loader.js';
import { startFixture, type Fixture } from '../harness/buildDeployFixture.js';

const exec = promisify(execFile);

describe('refit init', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'refit-init-'));
  let fixture: Fixture;
  let git: DevGitServer;
  let port: number;
  beforeAll(async () => {
    fixture = await startFixture('init', { gitPolicy: { allowFile: true, allowHttpHosts: [] } });
    port = await freePort();
    git = await startDevGitServer(fixture.home, port);
  }, 120_000);
  afterAll(async () => {
    await git?.stop();
    await fixture?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const init = (...args: string[]) =>
    exec(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'init', ...args], {
      env: { ...process.env, REFIT_DEV_GIT_PORT: String(port), NO_COLOR: '1' },
    });
  const runFile = async (file: string): Promise<BuildDeployResult> => {
    const loaded = await loadDefinitions([file]);
    expect(loaded.errors).toEqual([]);
    const handle = await new RefitClient(fixture.server.client, fixture.taskQueue).runDefinition(loaded.automations[0]!.automation);
    return (await handle.result()) as BuildDeployResult;
  };

  it("writes an automation of the example model on refit dev's git server, which runs and deploys", async () => {
    const dir = path.join(scratch, 'example');
    const { stdout } = await init(dir);
    expect(stdout).toContain('wrote');
    expect(stdout).toContain('refit run retrain-breast-cancer --wait');
    const result = await runFile(path.join(dir, 'retrain-breast-cancer.yaml'));
    expect(result).toMatchObject({ deployed: true, git_commit: git.commit });
  }, 300_000);

  it('with --model writes a model folder in a local git repository, which the automation builds and deploys', async () => {
    const dir = path.join(scratch, 'fraud-scorer');
    await init(dir, '--model');
    expect(readdirSync(path.join(dir, 'model')).sort()).toEqual(['main', 'tests']);
    expect(existsSync(path.join(dir, '.git'))).toBe(true);
    const result = await runFile(path.join(dir, 'retrain-fraud-scorer.yaml'));
    expect(result).toMatchObject({ deployed: true, model_id: 'fraud-scorer' });
    // Writing again refuses to overwrite, naming what is there.
    const again = await init(dir, '--model').catch((err: { code: number; stderr: string }) => err);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('already exist') });
  }, 300_000);
});
