import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { refitWithHome } from '../harness/refitCli.js';

const refit = refitWithHome;

describe('refit secrets', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-secrets-cli-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('stores a value read from stdin in an owner-only file, lists names only, and deletes', async () => {
    const set = await refit(home, ['secrets', 'set', 'git_token'], 'token-value-42\n');
    expect(set).toMatchObject({ code: 0, stdout: expect.stringContaining('stored secret git_token') });
    expect(set.stdout + set.stderr).not.toContain('token-value-42');
    const file = path.join(home, 'secrets', 'git_token');
    expect(readFileSync(file, 'utf8')).toBe('token-value-42');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const listed = await refit(home, ['secrets', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'git_token', hosts: [], automations: [] }]);
    expect((await refit(home, ['secrets', 'delete', 'git_token'])).code).toBe(0);
    expect(await refit(home, ['secrets', 'delete', 'git_token'])).toMatchObject({ code: 1, stderr: expect.stringContaining('there is no secret git_token') });
  });

  it('refuses an empty value and a value given as an argument', async () => {
    expect(await refit(home, ['secrets', 'set', 'empty'], '')).toMatchObject({ code: 2, stderr: expect.stringContaining('is empty; nothing was stored') });
    expect((await refit(home, ['secrets', 'set', 'git_token', 'token-on-the-command-line'])).code).toBe(2);
  });
});
