import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { packageRoot } from '../../platform/paths.js';

/**
 * With REFIT_RECORD_HISTORIES=1, keeps a real run's history under test/histories/<name>.json, where the
 * replay test replays it against the current workflow code: a change that would break runs in flight
 * fails CI. Commit the files it writes (and re-record only on purpose, with patched() in the workflow).
 */
export async function recordHistory(client: Client, workflowId: string, name: string, runId?: string): Promise<void> {
  if (!process.env.REFIT_RECORD_HISTORIES) return;
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  writeFileSync(path.join(packageRoot(), 'test', 'histories', `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
}

/** recordHistory for the newest closed run of a workflow type on a task queue (found through visibility, which may lag a moment). */
export async function recordLatestHistory(client: Client, workflowType: string, taskQueue: string, name: string): Promise<void> {
  if (!process.env.REFIT_RECORD_HISTORIES) return;
  for (let tries = 0; tries < 50; tries++) {
    for await (const execution of client.workflow.list({
      query: `WorkflowType = '${workflowType}' AND TaskQueue = '${taskQueue}' AND ExecutionStatus != 'Running'`,
    })) {
      return recordHistory(client, execution.workflowId, name);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no closed ${workflowType} run on ${taskQueue} to record as ${name}`);
}
