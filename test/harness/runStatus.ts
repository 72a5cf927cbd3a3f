import type { WorkflowHandle } from '@temporalio/client';
import { QueryNames } from '../../shared/names.js';
import type { RunStatus } from '../../shared/runTypes.js';

/** Asks a BuildDeploy run for its status (the query the CLI follows) until `test` holds. */
export async function waitForStatus(handle: WorkflowHandle, test: (status: RunStatus) => boolean, timeoutMs = 180_000): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await handle.query<RunStatus>(QueryNames.status).catch(() => undefined);
    if (status && test(status)) return status;
    if (Date.now() > deadline) throw new Error(`the run never got there; its last status: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
