// The trust boundaries as a user meets them, on the dev server with a worker: a hostile definition or
// query fails at once with a message naming what to fix, and no secret value reaches the run's history,
// its notifications or the build log.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { ErrorTypes } from '../../shared/errors.js';
import { packageRoot } from '../../platform/paths.js';
import { historyText, startFixture, type Fixture } from '../harness/buildDeployFixture.js';
import { startRecordingServer, type RecordingServer } from '../harness/recordingServer.js';

const PROD_TOKEN = 'ghp_prodTokenThatMustStayHome42';
const HF_TOKEN = 'hf_buildSecretPrintedByTheModel7';

describe('trust boundaries in real runs', () => {
  let fixture: Fixture;
  let hooks: RecordingServer;
  let secrets: LocalSecretStore;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'refit-trust-repos-'));
    hooks = await startRecordingServer();
    fixture = await startFixture('trust');
    secrets = new LocalSecretStore(path.join(fixture.home, 'secrets'));
    await secrets.set('prod_token', PROD_TOKEN, { hosts: ['github.com'], automations: [] });
    await secrets.set('hf_token', HF_TOKEN, { hosts: [], automations: ['trust-automation'] });
  }, 120_000);
  afterAll(async () => {
    await fixture?.close();
    await hooks?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** How many attempts the run's activities made in all: a configuration error makes one. */
  /** Attempts of the run's queued activities (the workspace claim is a local activity: not among them). */
  async function attempts(workflowId: string): Promise<number> {
    const history = await fixture.server.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? [])
      .filter((event) => event.activityTaskStartedEventAttributes)
      .reduce((sum, event) => sum + Math.max(1, event.activityTaskStartedEventAttributes!.attempt ?? 1), 0);
  }

  it("a threshold query that reads the secret store fails with the query's error, and the secret reaches neither history nor webhook", async () => {
    const secretFile = path.join(fixture.home, 'secrets', 'prod_token');
    const failed = await fixture.runFailing(
      fixture.automation((input) => {
        input.action.deployment_condition.threshold = `SELECT CAST(content AS DOUBLE) FROM read_text('${secretFile}')`;
        input.on_error = { type: 'CustomWebhook', url: `${hooks.url}/error`, data: '{"reason": "{{reason}}"}' };
      }),
    );
    expect(failed.type).toBe(ErrorTypes.ThresholdQueryInvalid);
    expect(failed.message).toMatch(/Permission Error: Cannot access file .*disabled by configuration/);
    const history = await historyText(fixture, failed.workflowId);
    expect(history).not.toContain(PROD_TOKEN);
    const [sent] = hooks.to('/error');
    expect(JSON.parse(sent!.body).reason).toMatch(/Permission Error/);
    expect(sent!.body).not.toContain(PROD_TOKEN);
  });

  it("a token scoped to another host is not sent to the definition's git server: the run fails at once saying how to scope it", async () => {
    const requestsBefore = fixture.git.requests.length;
    const failed = await fixture.runFailing(fixture.automation((input) => (input.action.build_spec.git_access_token_secret = 'prod_token')));
    expect(failed.type).toBe(ErrorTypes.SecretOutOfScope);
    expect(failed.message).toMatch(
      /secret "prod_token" \(git_access_token_secret\) may be sent to github\.com only, not to 127\.0\.0\.1:\d+; .*refit secrets scope prod_token --host github\.com --host 127\.0\.0\.1/,
    );
    expect(await attempts(failed.workflowId)).toBe(1); // the one clone attempt
    // Refused before git ran: the server saw nothing.
    expect(fixture.git.requests.length).toBe(requestsBefore);
    expect(await historyText(fixture, failed.workflowId)).not.toContain(PROD_TOKEN);
  });

  it("a repository's refit.yaml cannot ask for a secret the definition does not grant", async () => {
    const repository = path.join(work, 'hostile');
    cpSync(path.join(packageRoot(), 'examples', 'model-repo'), repository, { recursive: true });
    writeFileSync(path.join(repository, 'models', 'breast_cancer', 'refit.yaml'), 'secrets: { HF_TOKEN: prod_token }\n');
    await fixture.git.publish('hostile', repository);
    const failed = await fixture.runFailing(
      fixture.automation((input) => (input.action.build_spec.git_uri = `${fixture.git.url}/hostile.git#models/breast_cancer`)),
    );
    expect(failed.type).toBe(ErrorTypes.InvalidDefinition);
    expect(failed.message).toMatch(
      /refit\.yaml in the model folder asks for secret "prod_token" \(as HF_TOKEN\), which the automation does not grant .*action\.build_spec\.secrets/,
    );
  });

  it('a secret the build prints is masked in its log and its error, and kept out of history', async () => {
    const repository = path.join(work, 'printer');
    mkdirSync(path.join(repository, 'main'), { recursive: true });
    mkdirSync(path.join(repository, 'tests'), { recursive: true });
    writeFileSync(
      path.join(repository, 'main', 'model.py'),
      'from refit_sdk import RefitModel\n\nclass M(RefitModel):\n    def build(self):\n        pass\n\n    def predict(self, rows):\n        return rows\n',
    );
    writeFileSync(
      path.join(repository, 'tests', 'test_print.py'),
      'import os, unittest\n\nclass Printing(unittest.TestCase):\n    def test_prints_its_secret(self):\n        print("HF_TOKEN=" + os.environ["HF_TOKEN"], flush=True)\n        self.fail("the token is " + os.environ["HF_TOKEN"])\n',
    );
    await fixture.git.publish('printer', repository);
    const failed = await fixture.runFailing(
      fixture.automation((input) => {
        input.action.build_spec.git_uri = `${fixture.git.url}/printer.git`;
        input.action.build_spec.env_vars = ['HF_TOKEN=secret:hf_token'];
      }),
    );
    expect(failed.type).toBe(ErrorTypes.TestsFailed);
    expect(failed.message).toContain('the token is ***');
    expect(failed.message).not.toContain(HF_TOKEN);
    const result = (await fixture.server.client.workflow.getHandle(failed.workflowId).describe()).memo?.result as { build_id: string };
    const log = readFileSync(path.join(fixture.home, 'builds', result.build_id, 'build.log'), 'utf8');
    expect(log).toContain('HF_TOKEN=***');
    expect(log).not.toContain(HF_TOKEN);
    expect(await historyText(fixture, failed.workflowId)).not.toContain(HF_TOKEN);
  });
});
