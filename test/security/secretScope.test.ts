// A secret goes only where its operator scoped it: to the hosts listed (over https unless loopback), and
// to the automations (or models) listed. Checked before any request is made with the value.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_GIT_POLICY, allowedGitLocation, gitToken } from '../../activities/git/gitAccess.js';
import { sendNotification } from '../../activities/notify/sendNotification.js';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { resolveEnvVars } from '../../activities/secrets/resolveEnvVars.js';
import { checkSecretUse, type SecretScope, type SecretUse } from '../../activities/secrets/secretScope.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { refitWithHome } from '../harness/refitCli.js';

const who = { automation: 'churn-weekly', modelId: 'churn', field: 'git_access_token_secret' };
const scope = (hosts: string[], automations: string[] = []): SecretScope => ({ hosts, automations });

function refusal(name: string, given: SecretScope, use: SecretUse, value?: string): string | undefined {
  try {
    checkSecretUse(name, given, use, value);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(RefitError);
    expect((err as RefitError).type).toBe(ErrorTypes.SecretOutOfScope);
    return (err as Error).message;
  }
}

describe('checkSecretUse', () => {
  it('sends a secret without a host scope only to this machine, and says how to scope it', () => {
    expect(refusal('git', scope([]), { ...who, destination: 'http://127.0.0.1:8080/r.git' })).toBeUndefined();
    expect(refusal('git', scope([]), { ...who, destination: 'http://localhost/r.git' })).toBeUndefined();
    expect(refusal('git', scope([]), { ...who, destination: 'https://github.com/org/r.git' })).toMatch(
      /secret "git" \(git_access_token_secret\) has no host scope, so it is sent only to this machine \(loopback\), not to github\.com:443; .*refit secrets scope git --host github\.com/,
    );
  });

  it('sends it only to the hosts (and ports) its scope lists', () => {
    const github = scope(['github.com', 'git.example.com:8443', '*.corp.example']);
    expect(refusal('git', github, { ...who, destination: 'https://github.com/org/r.git' })).toBeUndefined();
    expect(refusal('git', github, { ...who, destination: 'https://git.example.com:8443/r.git' })).toBeUndefined();
    expect(refusal('git', github, { ...who, destination: 'https://git.example.com/r.git' })).toMatch(
      /may be sent to github\.com, git\.example\.com:8443, \*\.corp\.example only, not to git\.example\.com:443/,
    );
    expect(refusal('git', github, { ...who, destination: 'https://evil.example/r.git' })).toMatch(
      /not to evil\.example:443; .*--host github\.com --host git\.example\.com:8443 --host \*\.corp\.example --host evil\.example/,
    );
    expect(refusal('git', github, { ...who, destination: 'https://git.corp.example/r.git' })).toBeUndefined();
    expect(refusal('git', github, { ...who, destination: 'https://corp.example/r.git' })).toMatch(/not to corp\.example/);
  });

  it('never sends a secret over plain http to another machine, whatever its scope, unless the operator allows http to that host', () => {
    expect(refusal('git', scope(['github.com']), { ...who, destination: 'http://github.com/org/r.git' })).toMatch(
      /over http; a secret leaves this machine only over https/,
    );
    // REFIT_GIT_ALLOW_HTTP_HOSTS (a git server on the cluster's own network): http is allowed, the host scope still applies.
    expect(refusal('git', scope(['10.244.0.1']), { ...who, destination: 'http://10.244.0.1:8080/r.git', plainHttpAllowed: true })).toBeUndefined();
    expect(refusal('git', scope(['github.com']), { ...who, destination: 'http://10.244.0.1:8080/r.git', plainHttpAllowed: true })).toMatch(
      /may be sent to github\.com only/,
    );
    expect(refusal('git', scope(['10.244.0.1']), { ...who, destination: 'ftp://10.244.0.1/r.git', plainHttpAllowed: true })).toMatch(/over ftp/);
  });

  it('gives a secret only to the automations or models its scope names', () => {
    const churn = scope([], ['churn-weekly', 'fraud']);
    const build = { ...who, field: 'build_spec.env_vars (HF_TOKEN)' };
    expect(refusal('hf', churn, build)).toBeUndefined();
    expect(refusal('hf', churn, { ...build, automation: 'fraud-daily', modelId: 'fraud' })).toBeUndefined();
    expect(refusal('hf', churn, { ...build, automation: 'other', modelId: 'other' })).toMatch(
      /may be used by churn-weekly, fraud only, not by automation "other" \(model other\); .*--automation churn-weekly --automation fraud --automation other/,
    );
    // Without an automation scope, no build gets it at all.
    expect(refusal('hf', scope(['hooks.slack.com']), build)).toMatch(
      /has no automation scope, and a build or model server is given only the secrets scoped to it/,
    );
  });

  it('checks a secret that is itself the destination (a Slack webhook) against the host it names, never showing it', () => {
    const use = { ...who, field: 'SlackNotification.webhook', destinationIsValue: true };
    const value = 'https://hooks.slack.com/services/T0/B0/very-secret-token';
    expect(refusal('slack', scope(['hooks.slack.com']), use, value)).toBeUndefined();
    const message = refusal('slack', scope([]), use, value);
    expect(message).toMatch(/no host scope.*not to hooks\.slack\.com:443/);
    expect(message).not.toContain('very-secret-token');
    expect(refusal('slack', scope(['hooks.slack.com']), use, 'not a url with secret-bits')).not.toContain('secret-bits');
  });
});

describe('every use goes through the scope', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-scope-'));
  const store = new LocalSecretStore(path.join(home, 'secrets'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('a git token goes only to a host in its scope, and never over ssh', async () => {
    await store.set('prod_token', 'ghp-not-a-real-token', scope(['github.com']));
    const whom = { automation: 'churn-weekly', modelId: 'churn' };
    await expect(gitToken(store, 'prod_token', allowedGitLocation('https://github.com/org/r.git', DEFAULT_GIT_POLICY), whom)).resolves.toBe(
      'ghp-not-a-real-token',
    );
    await expect(gitToken(store, 'prod_token', allowedGitLocation('https://attacker.example/r.git', DEFAULT_GIT_POLICY), whom)).rejects.toThrow(
      /may be sent to github\.com only, not to attacker\.example:443/,
    );
    await expect(gitToken(store, 'prod_token', allowedGitLocation('git@github.com:org/r.git', DEFAULT_GIT_POLICY), whom)).rejects.toThrow(
      /works with https:\/\/ repositories only/,
    );
    // Plain http to a host only where the operator allows http clones of it (REFIT_GIT_ALLOW_HTTP_HOSTS), and still within the scope.
    await store.set('cluster_token', 'cluster-token-value', scope(['10.244.0.1']));
    const httpPolicy = { allowFile: false, allowHttpHosts: ['10.244.0.1'] };
    const onCluster = allowedGitLocation('http://10.244.0.1:3000/models.git', httpPolicy);
    await expect(gitToken(store, 'cluster_token', onCluster, whom, httpPolicy)).resolves.toBe('cluster-token-value');
    await expect(gitToken(store, 'cluster_token', onCluster, whom)).rejects.toThrow(/over http; a secret leaves this machine only over https/);
  });

  it('a build variable KEY=secret:x only for a scoped automation', async () => {
    await store.set('hf_token', 'hf-value', scope([], ['churn-weekly']));
    const whom = { automation: 'churn-weekly', modelId: 'churn', field: 'build_spec.env_vars' };
    await expect(resolveEnvVars(['HF_TOKEN=secret:hf_token'], store, whom)).resolves.toEqual({ HF_TOKEN: 'hf-value' });
    await expect(resolveEnvVars(['HF_TOKEN=secret:hf_token'], store, { ...whom, automation: 'intruder', modelId: 'intruder' })).rejects.toThrow(
      /build_spec\.env_vars \(HF_TOKEN\)\) may be used by churn-weekly only/,
    );
    await expect(resolveEnvVars(['HF_TOKEN=secret:prod_token'], store, whom)).rejects.toThrow(/has no automation scope/);
  });

  it('a webhook header secret goes only to a host in its scope, before any request is made', async () => {
    await store.set('hook_auth', 'Bearer hook-value', scope([]));
    const event = {
      automation: 'churn-weekly',
      model_id: 'churn',
      outcome: 'failed' as const,
      reason: 'r',
      build_id: 'b',
      git_commit: '',
      deployed: false,
      run_url: 'u',
      workflow_id: 'w',
    };
    const notification = {
      type: 'CustomWebhook' as const,
      url: 'https://hooks.example.invalid/refit',
      http_method: 'POST' as const,
      headers: { Authorization: { secret: 'hook_auth' } },
    };
    await expect(sendNotification(notification, event, store)).rejects.toThrow(
      /secret "hook_auth" \(CustomWebhook\.headers\.Authorization\) has no host scope.*not to hooks\.example\.invalid:443/,
    );
  });
});

describe('refit secrets with scopes', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-scope-cli-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const refit = (args: string[], stdin = '') => refitWithHome(home, args, stdin);

  it('stores the scope given on set, shows it in list, and changes it with scope, keeping the value', async () => {
    expect(await refit(['secrets', 'set', 'gh', '--host', 'github.com', '--host', 'ghe.corp:8443', '--automation', 'churn-weekly'], 'tok-1\n')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('hosts github.com, ghe.corp:8443; automations churn-weekly'),
    });
    expect((await refit(['secrets', 'set', 'loose'], 'tok-2\n')).stdout).toMatch(/loopback only; no build\n.*refit secrets scope loose --host/);
    const listed = await refit(['secrets', 'list']);
    expect(listed.stdout).toMatch(/^gh +hosts github\.com, ghe\.corp:8443; automations churn-weekly$/m);
    expect(listed.stdout).toMatch(/^loose +loopback only; no build$/m);
    expect(listed.stdout).toMatch(/1 without a scope yet \(loose\)/);
    expect(await refit(['secrets', 'scope', 'loose', '--automation', 'fraud'])).toMatchObject({ code: 0 });
    expect(JSON.parse((await refit(['secrets', 'list', '--json'])).stdout)).toEqual([
      { name: 'gh', hosts: ['github.com', 'ghe.corp:8443'], automations: ['churn-weekly'] },
      { name: 'loose', hosts: [], automations: ['fraud'] },
    ]);
    expect(await new LocalSecretStore(path.join(home, 'secrets')).get('loose')).toBe('tok-2');
  });

  it('refuses a host or automation that is not one, naming the flag', async () => {
    expect(await refit(['secrets', 'set', 'x', '--host', 'not a host'], 'v\n')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--host "not a host" is not a host'),
    });
    expect(await refit(['secrets', 'scope', 'gh', '--automation', 'Bad Name'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--automation') });
  });
});
