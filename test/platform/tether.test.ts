// The tether takes its options from its parent, never from the command's environment, and masks the
// secrets it is given in what the command prints.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { exited } from '../../platform/processes.js';
import { maskSecrets, SecretMask } from '../../platform/secretMask.js';
import { spawnTethered } from '../../platform/tethered.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'refit-tether-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the tether', () => {
  it('ignores REFIT_TETHER_* in the command environment: a build cannot make it delete a folder', async () => {
    const precious = path.join(root, 'precious');
    mkdirSync(precious);
    const log = path.join(root, 'env.log');
    const child = spawnTethered(log, '/bin/sh', ['-c', 'echo "$REFIT_TETHER_REMOVE_ON_EXIT"'], {
      env: { PATH: '/usr/bin:/bin', REFIT_TETHER_REMOVE_ON_EXIT: precious, REFIT_TETHER_UID: '0' },
    });
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(existsSync(precious)).toBe(true);
    // The command still sees its own environment as it was given.
    expect(readFileSync(log, 'utf8')).toContain(precious);
  });

  it('removes the folder its parent names once the command is gone', async () => {
    const throwaway = path.join(root, 'throwaway');
    mkdirSync(throwaway);
    const child = spawnTethered(path.join(root, 'remove.log'), '/bin/true', [], { removeOnExit: throwaway });
    await exited(child);
    expect(existsSync(throwaway)).toBe(false);
  });

  it('masks secret values in the output, also when the command prints them in pieces', async () => {
    const log = path.join(root, 'mask.log');
    const secret = 'tok-9f8e7d6c5b4a';
    // Half the secret, a pause longer than the tether's idle flush, then the other half.
    const script = `printf 'start %s' "\${A}"; sleep 1.5; printf '%s end\\n' "\${B}"; echo "whole: $S"`;
    const child = spawnTethered(log, '/bin/sh', ['-c', script], {
      env: { PATH: '/usr/bin:/bin', A: secret.slice(0, 7), B: secret.slice(7), S: secret },
      mask: [secret],
    });
    await exited(child);
    const text = readFileSync(log, 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(0, 7));
    expect(text).toContain('start *** end');
    expect(text).toContain('whole: ***');
  });
});

describe('SecretMask', () => {
  it('masks the longer of two overlapping secrets whole', () => {
    expect(maskSecrets('a=abcdef b=abc', ['abc', 'abcdef'])).toBe('a=*** b=***');
  });

  it('passes on what cannot start a secret while a line is unfinished, and holds back what can', () => {
    const mask = new SecretMask(['secret']);
    expect(mask.push('progress 10% sec')).toBe('');
    expect(mask.flushIdle()).toBe('progress 10% ');
    expect(mask.push('ret done\n')).toBe('*** done\n');
    expect(mask.end()).toBe('');
  });
});
