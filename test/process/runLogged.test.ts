import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runLogged, type LoggedRun } from '../../activities/process/runLogged.js';

describe('runLogged', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'refit-run-logged-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (script: string, options: Partial<LoggedRun> = {}) => {
    const logFile = path.join(dir, `${Math.random().toString(36).slice(2)}.log`);
    const lines: string[] = [];
    const result = runLogged({
      command: '/bin/sh',
      args: ['-c', script],
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      logFile,
      timeoutMs: 60_000,
      onLines: (seen) => lines.push(...seen),
      ...options,
    });
    return { result, log: () => readFileSync(logFile, 'utf8'), lines };
  };

  it('starts a command that dies with its parent itself, and any other under the tether', async () => {
    const direct = run('echo "parent $PPID"', { diesWithParent: true });
    expect(await direct.result).toMatchObject({ exitCode: 0, killed: false });
    expect(direct.log()).toBe(`parent ${process.pid}\n`);
    const tethered = run('echo "parent $PPID"');
    expect(await tethered.result).toMatchObject({ exitCode: 0 });
    expect(tethered.log()).toMatch(/^parent \d+\n$/);
    expect(tethered.log()).not.toBe(`parent ${process.pid}\n`);
  });

  it.each([true, false])('masks secrets before they reach the log and the progress lines (started directly: %s)', async (diesWithParent) => {
    const started = run('echo "token s3cr3t-value here"; echo "to stderr s3cr3t-value" >&2; exit 3', { diesWithParent, mask: ['s3cr3t-value'] });
    expect(await started.result).toMatchObject({ exitCode: 3, killed: false });
    expect(started.log()).toContain('token *** here');
    expect(started.log()).toContain('to stderr ***');
    expect(started.log()).not.toContain('s3cr3t');
    expect(started.lines.join('\n')).not.toContain('s3cr3t');
  });

  it('stops a command at its timeout, and kills one that ignores SIGTERM after the grace time', async () => {
    const polite = run('sleep 30', { diesWithParent: true, timeoutMs: 200 });
    expect(await polite.result).toMatchObject({ exitCode: 143, killed: true, timedOut: true });
    const stubborn = run('trap "" TERM; echo ready; while :; do sleep 0.1; done', { diesWithParent: true, timeoutMs: 200 });
    expect(await stubborn.result).toMatchObject({ exitCode: 137, killed: true, timedOut: true });
  }, 20_000);

  it('fails with the reason when the command cannot be started', async () => {
    await expect(run('', { command: path.join(dir, 'absent'), diesWithParent: true }).result).rejects.toThrow(/ENOENT/);
  });
});
