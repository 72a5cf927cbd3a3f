import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import proto from '@temporalio/proto';
import type { SmokeTestResult } from '../workflows/smokeTest.js';
import { connectToTestServer, createTestWorker, uniqueTaskQueue } from '../harness/temporal.js';

describe('smokeTest workflow on the real dev server', () => {
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  beforeAll(async () => {
    server = await connectToTestServer();
  });
  afterAll(async () => server?.close());

  it('is started by a client, runs its activity on a worker and returns the result', async () => {
    const taskQueue = uniqueTaskQueue('smoke');
    const worker = await createTestWorker({ connection: server.nativeConnection, namespace: server.namespace, taskQueue });
    const workflowId = `smoke-${taskQueue}`;
    const result = await worker.runUntil(
      server.client.workflow.execute<(name: string) => Promise<SmokeTestResult>>('smokeTest', {
        taskQueue,
        workflowId,
        args: ['tests'],
      }),
    );
    expect(result.greeting).toBe("Hello, tests: Refit's worker answered.");
    expect(result.worker.pid).toBe(process.pid);

    // The server really recorded it: the history holds one completed activity and a completed workflow.
    const history = await server.client.workflow.getHandle(workflowId).fetchHistory();
    const eventTypes = (history.events ?? []).map((event) => event.eventType);
    const { EventType } = proto.temporal.api.enums.v1;
    expect(eventTypes).toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    expect(eventTypes).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  });
});
