import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Worker } from '@temporalio/worker';
import { packageRoot } from '../../platform/paths.js';
import { readRunState } from '../harness/runState.js';

// Histories recorded from real runs (REFIT_RECORD_HISTORIES=1) replayed against today's workflow code:
// a non-deterministic change to a workflow fails here before it can break runs in flight.
const folder = path.join(packageRoot(), 'test', 'histories');
const histories = readdirSync(folder)
  .filter((file) => file.endsWith('.json'))
  .sort();

describe('replaying recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThanOrEqual(5);
  });

  it.each(histories)('replays %s without non-determinism', async (file) => {
    const history = JSON.parse(readFileSync(path.join(folder, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath: readRunState().workflowBundlePath } }, history, file.replace(/\.json$/, ''));
  });
});
