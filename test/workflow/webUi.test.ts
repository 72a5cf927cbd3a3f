// A run as a person sees it in the Temporal Web UI, in a real browser (Debian's Chromium, driven by playwright-core):
// a dev server with its UI for this file, a Refit worker on it, one run of the example model, and the run's page,
// whose User Metadata tab shows the summary `refit run` gave it and the current details the run ended with.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { chromium, type Browser } from 'playwright-core';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { RefitClient } from '../../client/refitClient.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { startDevServer, type DevServer } from '../../devstack/temporalDevServer.js';
import { packageRoot } from '../../platform/paths.js';
import type { BuildDeployResult } from '../../shared/runTypes.js';
import type { RefitWorker } from '../../worker/createWorker.js';
import { validateAutomation } from '../../spec/validate.js';
import { MODEL_FOLDER, TEST_VENV_CACHE, TOKEN } from '../harness/buildDeployFixture.js';
import { createTestWorker } from '../harness/temporal.js';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';

const run = promisify(execFile);

describe('a run in the Web UI, in a browser', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-web-ui-'));
  let server: DevServer;
  let git: GitServer;
  let connection: NativeConnection;
  let worker: RefitWorker;
  let running: Promise<void>;
  let client: Client;
  let browser: Browser;
  let workflowId: string;
  let result: BuildDeployResult;

  beforeAll(async () => {
    const { stdout } = await run('bash', [path.join(packageRoot(), 'scripts', 'install-chromium.sh')]);
    browser = await chromium.launch({ executablePath: stdout.trim(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), stateDir: path.join(dir, 'server'), removeStateDirOnExit: true });
    git = await startGitServer(TOKEN);
    const commit = await git.publish('models', path.join(packageRoot(), 'examples', 'model-repo'));
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    const home = path.join(dir, 'home');
    await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', TOKEN);
    connection = await NativeConnection.connect({ address: server.address });
    worker = await createTestWorker({ connection, namespace: server.namespace, taskQueue: 'web-ui', home, dependencies: { venvCacheDir: TEST_VENV_CACHE } });
    running = worker.run();
    client = new Client({ connection: await Connection.connect({ address: server.address }), namespace: server.namespace });
    const validated = validateAutomation({
      name: 'shown',
      model_id: 'shown',
      trigger: { type: 'NoneTrigger' },
      action: {
        build_spec: { git_uri: `${git.url}/models.git#${MODEL_FOLDER}`, git_access_token_secret: 'git_token' },
        deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
        deployment_spec: { number_of_pods: 1, cpu_fraction: 1, memory: '1Gi', deployment_process_timeout_limit: 60 },
      },
    });
    if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
    const handle = await new RefitClient(client, 'web-ui').runDefinition(validated.automation);
    workflowId = handle.workflowId;
    result = (await handle.result()) as BuildDeployResult;
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await client?.connection.close();
    await git?.stop();
    await server?.stop();
    // The run deployed to the local target: its model server and router outlive the worker unless stopped.
    await stopAllLocalServing(path.join(dir, 'home', 'deployments'));
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the run's summary and its outcome on its page", async () => {
    expect(result.deployed).toBe(true);
    const page = await browser.newPage();
    await page.goto(`${server.uiUrl}/namespaces/${server.namespace}/workflows/${workflowId}`);
    await page.getByText('User Metadata', { exact: true }).first().click();
    // The UI renders each piece of user metadata as markdown in an iframe of its own (the repository's address
    // becomes a link): a piece shows when some frame's text, as a person reads it, is the piece.
    const frameTexts = () =>
      Promise.all(
        page.frames().map((frame) =>
          frame.innerText('body').then(
            (text) => text.replace(/\s+/g, ' ').trim(),
            () => '',
          ),
        ),
      );
    const shows = async (pattern: RegExp) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const texts = await frameTexts();
        if (texts.some((text) => pattern.test(text))) return;
        if (Date.now() > deadline)
          throw new Error(
            `the run's page shows nothing like ${pattern} within 60 s; its frames read: ${JSON.stringify(texts.map((text) => text.slice(0, 200)))}`,
          );
        await page.waitForTimeout(500);
      }
    };
    await shows(/^manual run of shown: build shown from http:\/\/127\.0\.0\.1:\d+\/models\.git#models\/breast_cancer @ main$/);
    await shows(/^model shown · trigger NoneTrigger condition deploys when f1_score is above 0\.65 deploy variation default/);
    await shows(new RegExp(`^deployed ${result.build_id} @[0-9a-f]{7} \\(f1_score 0\\.\\d+ is above the threshold 0\\.65\\)$`));
    await page.screenshot({ path: path.join(dir, 'run-page.png') });
  }, 120_000);
});
