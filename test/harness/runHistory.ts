// What a run did, step by step, from its history and the histories of the workflows it started (its
// deploy runs in the model's promotion workflow): how often each activity was scheduled, tried and finished.
import type { Client } from '@temporalio/client';

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;

/** The run's history, then those of the child workflows it started. */
export async function runHistories(client: Client, workflowId: string, runId?: string): Promise<History[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const histories = [history];
  for (const event of history.events ?? []) {
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId) histories.push(...(await runHistories(client, child.workflowId, child.runId ?? undefined)));
  }
  return histories;
}

/** Of one activity type, over the run and its children: times scheduled, the attempt of each start, completions. */
export async function activityAttempts(
  client: Client,
  workflowId: string,
  activity: string,
): Promise<{ scheduled: number; attempts: number[]; completed: number }> {
  const total = { scheduled: 0, attempts: [] as number[], completed: 0 };
  for (const history of await runHistories(client, workflowId)) {
    const events = history.events ?? [];
    const scheduled = new Set(
      events.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((event) => String(event.eventId)),
    );
    total.scheduled += scheduled.size;
    for (const event of events) {
      if (scheduled.has(String(event.activityTaskStartedEventAttributes?.scheduledEventId)))
        total.attempts.push(event.activityTaskStartedEventAttributes!.attempt ?? 1);
      if (scheduled.has(String(event.activityTaskCompletedEventAttributes?.scheduledEventId))) total.completed += 1;
    }
  }
  return total;
}
