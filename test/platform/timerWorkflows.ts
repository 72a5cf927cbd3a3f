// Workflow code for devServerTimers.test.ts: two timers made together.
import { sleep } from '@temporalio/workflow';

export async function shortAndLongTimers(): Promise<void> {
  await Promise.all([sleep(100), sleep(900)]);
}
