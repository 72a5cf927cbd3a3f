// Webhook receivers are untrusted, and what a notification says comes partly from build output: a body
// can never be broken or extended by a value, a webhook never reaches cloud metadata addresses, and its
// headers (secrets among them) never follow a redirect to another origin.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fillTemplate, sendNotification, type RunEvent } from '../../activities/notify/sendNotification.js';
import { forbiddenAddress } from '../../activities/notify/webhookRequest.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { startRecordingServer, type RecordingServer } from '../harness/recordingServer.js';

const event = (reason: string): RunEvent => ({
  automation: 'churn-weekly',
  model_id: 'churn',
  outcome: 'failed',
  reason,
  build_id: 'churn-0a1b2c3d4e5f',
  git_commit: 'abc123',
  deployed: false,
  run_url: 'http://ui/run',
  workflow_id: 'refit-churn-weekly-1',
});

describe('body templates', () => {
  const template = '{"text": "{{automation}} {{outcome}}: {{reason}}", "deployed": {{deployed}}, "build": {{build_id}}}';

  it('writes every value as JSON: inside a string escaped, outside one as a whole value', () => {
    const reason = 'tests failed: expected "0.9" \\ got\n0.1';
    const body = JSON.parse(fillTemplate(template, event(reason)));
    expect(body).toEqual({ text: `churn-weekly failed: ${reason}`, deployed: false, build: 'churn-0a1b2c3d4e5f' });
  });

  it('lets no value end a string and add a field', () => {
    const injected = 'x", "approved": true, "y": "';
    const body = JSON.parse(fillTemplate(template, event(injected)));
    expect(Object.keys(body).sort()).toEqual(['build', 'deployed', 'text']);
    expect(body.text).toContain(injected);
  });

  it('fills a body that is not JSON as text', () => {
    expect(fillTemplate('reason={{reason}}', event('a "b"'), { json: false })).toBe('reason=a "b"');
  });
});

describe('webhook requests', () => {
  let hooks: RecordingServer;
  let other: RecordingServer;
  let home: string;
  let secrets: LocalSecretStore;
  beforeAll(async () => {
    hooks = await startRecordingServer();
    other = await startRecordingServer();
    home = mkdtempSync(path.join(os.tmpdir(), 'refit-webhooks-'));
    secrets = new LocalSecretStore(path.join(home, 'secrets'));
    await secrets.set('hook_auth', 'Bearer hook-secret-7');
  });
  afterAll(async () => {
    await hooks?.stop();
    await other?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  const webhook = (url: string, method: 'POST' | 'GET' = 'POST') =>
    ({ type: 'CustomWebhook', url, http_method: method, headers: { Authorization: { secret: 'hook_auth' } } }) as const;
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RefitError);
    expect((error as RefitError).type).toBe(ErrorTypes.InvalidDefinition);
    return (error as Error).message;
  };

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/hook',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://100.100.100.200/latest',
    'http://[::ffff:169.254.169.254]/',
  ])('refuses %s before sending anything', async (url) => {
    expect(await failure(sendNotification({ type: 'CustomWebhook', url, http_method: 'POST', headers: {} }, event('r'), secrets))).toMatch(
      /REFIT_WEBHOOK_ALLOW_LINK_LOCAL=true/,
    );
  });

  it('knows the addresses that are off limits', () => {
    expect(forbiddenAddress('169.254.10.1')).toMatch(/link-local/);
    expect(forbiddenAddress('fe80::abcd')).toMatch(/link-local/);
    expect(forbiddenAddress('fd00:ec2::254')).toMatch(/metadata/);
    expect(forbiddenAddress('127.0.0.1')).toBeUndefined();
    expect(forbiddenAddress('10.1.2.3')).toBeUndefined();
  });

  it('does not follow a redirect to another origin, so its headers stay with the receiver it was meant for', async () => {
    hooks.redirects.set('/moved', { status: 307, location: `${other.url}/stolen` });
    expect(await failure(sendNotification(webhook(`${hooks.url}/moved`), event('r'), secrets))).toMatch(/redirecting to another origin .*does not follow it/);
    expect(other.requests).toHaveLength(0);
  });

  it('does not report a POST turned into a GET by a redirect as delivered', async () => {
    hooks.redirects.set('/found', { status: 302, location: '/landing' });
    expect(await failure(sendNotification(webhook(`${hooks.url}/found`), event('r'), secrets))).toMatch(/302, which would turn the POST into a GET/);
    expect(hooks.to('/landing')).toHaveLength(0);
  });

  it('follows a redirect on the same origin that keeps the method and body (307, 308)', async () => {
    hooks.redirects.set('/old', { status: 308, location: '/new' });
    await expect(sendNotification(webhook(`${hooks.url}/old`), event('r'), secrets)).resolves.toMatchObject({ status: 200 });
    const [received] = hooks.to('/new');
    expect(received).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer hook-secret-7' } });
    expect(JSON.parse(received!.body)).toMatchObject({ reason: 'r' });
  });
});
