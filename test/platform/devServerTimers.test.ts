// The dev server Refit starts (here, the tests' own) fires a timer shorter than a second when it is due:
// Temporal's default holds every new timer for at least 1 s (history.timerProcessorMaxTimeShift), and a run's
// 100 ms retries, while its model's promotion closed, waited that long.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';

let server: Awaited<ReturnType<typeof connectToTestServer>>;
beforeAll(async () => {
  server = await connectToTestServer();
});
afterAll(async () => server?.close());

const ms = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;

describe("the dev server's timers", () => {
  it('fire a short timer when it is due, not a second later', async () => {
    const taskQueue = uniqueTaskQueue('timers');
    const worker = await Worker.create({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./timerWorkflows.js', import.meta.url)),
    });
    const handle = await worker.runUntil(async () => {
      const started = await server.client.workflow.start('shortAndLongTimers', { taskQueue, workflowId: taskQueue });
      await started.result();
      return started;
    });
    const events = (await handle.fetchHistory()).events ?? [];
    const firedAt = events.filter((event) => event.timerFiredEventAttributes).map((event) => ms(event.eventTime));
    expect(firedAt).toHaveLength(2);
    // Held for a second, both fire together; when due, 800 ms apart (load delays both alike).
    expect(firedAt[1]! - firedAt[0]!).toBeGreaterThan(400);
  }, 60_000);
});
