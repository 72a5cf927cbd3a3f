import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isServing } from '../../activities/deploy/local/pods.js';

/** Alive and not a zombie, read straight from /proc: what isServing answers must agree with while a pod runs. */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

describe('isServing', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'refit-pods-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A pod is a shell that execs bubblewrap; while a process execs, /proc/<pid>/cmdline reads empty for a moment.
  // A process that execs itself hundreds of times (its arguments always naming the serving module) is read without a
  // pause: every "no" while it is still alive would be a starting pod taken for one that exited.
  it('does not take a pod in the middle of exec for one that exited', () => {
    const script = path.join(dir, 'exec-chain.sh');
    writeFileSync(script, '[ "$2" -gt 0 ] && exec /bin/sh "$0" "$1" $(($2 - 1))\nsleep 0.2\n');
    const child = spawn('/bin/sh', [script, 'refit_sdk.serve', '400'], { stdio: 'ignore' });
    let readings = 0;
    let wrong = 0;
    for (;;) {
      readings++;
      if (isServing(child.pid!)) continue;
      if (!alive(child.pid!)) break;
      wrong++;
    }
    expect(readings).toBeGreaterThan(100);
    expect(wrong).toBe(0);
  });

  it('says no for a process that is not a model server, or one with an empty command line that stays empty', () => {
    const other = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      expect(isServing(other.pid!)).toBe(false);
    } finally {
      other.kill();
    }
    // kthreadd, pid 2 on Linux: a kernel thread's command line is always empty.
    expect(isServing(2)).toBe(false);
  });
});
