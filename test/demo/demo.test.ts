import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';
import { runningProcesses } from '../../platform/processes.js';
import { TEST_VENV_CACHE } from '../harness/buildDeployFixture.js';

const run = promisify(execFile);

/** Processes (other than this one) whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  return runningProcesses()
    .filter(({ pid, command }) => pid !== process.pid && command.includes(text))
    .map(({ command }) => command);
}

describe('make demo', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-demo-test-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('runs the example end to end, prints the result, the history and the Web UI, and leaves no process behind', async () => {
    const { stdout } = await run(process.execPath, [path.join(packageRoot(), 'dist', 'devstack', 'demo.js')], {
      cwd: packageRoot(),
      env: { ...process.env, REFIT_HOME: home, REFIT_VENV_CACHE: TEST_VENV_CACHE, NO_COLOR: '1', TEMPORAL_ADDRESS: '' },
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
    expect(stdout).toMatch(/✓ weekly-retrain +model breast-cancer · cron "0 0 \* \* 0" UTC/);
    expect(stdout).toMatch(/^weekly-retrain +refit-weekly-retrain +created$/m);
    expect(stdout).toMatch(/deployed in [\d.]+ s: deployed build breast-cancer-[0-9a-f]{12} \(variation B\): f1_score 0\.98\d+ is above the threshold 0\.65/);
    expect(stdout).toMatch(/→ \[0,1\]/);
    expect(stdout).toMatch(/precision_drop is 0\.86, below 0\.9: started build/);
    expect(stdout).toMatch(/Web UI, all runs: +http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows/);
    expect(stdout).toMatch(/Demo finished in \d+ s\./);
    expect(stdout).toMatch(/schedules deleted, model servers, git server, worker and Temporal stopped/);
    // Its Temporal server, worker, git server and model servers all ran with this home in their command
    // line or under the demo's process; none of them may outlive it.
    expect(processesMentioning(home)).toEqual([]);
    expect(processesMentioning('refit-demo-')).toEqual([]);
  }, 300_000);
});
