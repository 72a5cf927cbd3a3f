import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';

describe('the local secret store', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-secrets-'));
  const folder = path.join(home, 'secrets');
  const store = new LocalSecretStore(folder);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('keeps values in owner-only files and gives them back', async () => {
    await store.set('git_token', 'value-1\n');
    expect(await store.get('git_token')).toBe('value-1');
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(folder, 'git_token')).mode & 0o777).toBe(0o600);
    await store.set('git_token', 'value-2');
    expect(await store.get('git_token')).toBe('value-2');
    expect(readdirSync(folder)).toEqual(['git_token']);
  });

  it('lists and deletes', async () => {
    await store.set('slack_hook', 'https://hooks.example.com/x');
    expect(await store.list()).toEqual(['git_token', 'slack_hook']);
    expect(await store.delete('slack_hook')).toBe(true);
    expect(await store.delete('slack_hook')).toBe(false);
    expect(await store.list()).toEqual(['git_token']);
  });

  it('says how to add a secret that is missing', async () => {
    const error = await store.get('absent').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RefitError);
    expect((error as RefitError).type).toBe(ErrorTypes.SecretNotFound);
    expect((error as Error).message).toMatch(/refit secrets set absent/);
  });

  it('refuses a secret file that others can read', async () => {
    chmodSync(path.join(folder, 'git_token'), 0o644);
    await expect(store.get('git_token')).rejects.toThrow(/readable by other users.*chmod 600/);
  });

  it('refuses names that are not secret names', async () => {
    await expect(store.set('../escape', 'x')).rejects.toThrow(/not a secret name/);
  });
});
