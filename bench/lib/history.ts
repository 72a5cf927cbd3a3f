// Where the time of a workflow run went, read from its history: when each activity was scheduled,
// started and completed, as the server recorded it.
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';

export interface StepTimeline {
  activity: string;
  scheduledAt: number;
  startedAt: number;
  completedAt: number;
  attempt: number;
}

export interface RunTimeline {
  startedAt: number;
  closedAt: number;
  steps: StepTimeline[];
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

export function timelineOf(history: History): RunTimeline {
  const events = history.events ?? [];
  const at = (event: (typeof events)[number]) => tsToMs(event.eventTime);
  const steps = new Map<string, StepTimeline>();
  let startedAt = Number.NaN;
  let closedAt = Number.NaN;
  for (const event of events) {
    const id = String(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) startedAt = at(event);
    if (event.workflowExecutionCompletedEventAttributes || event.workflowExecutionFailedEventAttributes) closedAt = at(event);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled)
      steps.set(id, { activity: scheduled.activityType?.name ?? '?', scheduledAt: at(event), startedAt: Number.NaN, completedAt: Number.NaN, attempt: 0 });
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const step = steps.get(String(started.scheduledEventId));
      if (step) Object.assign(step, { startedAt: at(event), attempt: started.attempt ?? 1 });
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const step = steps.get(String(completed.scheduledEventId));
      if (step) step.completedAt = at(event);
    }
  }
  return { startedAt, closedAt, steps: [...steps.values()] };
}

/**
 * Each step's share of the run: from the previous step's completion (or the run's start) to its own,
 * split into the workflow task that scheduled it, the wait for a worker to pick it up, and its execution.
 */
export function stepShares(timeline: RunTimeline) {
  let previous = timeline.startedAt;
  return timeline.steps.map((step) => {
    const share = {
      activity: step.activity,
      wallMs: step.completedAt - previous,
      workflowTaskMs: step.scheduledAt - previous,
      dispatchMs: step.startedAt - step.scheduledAt,
      executionMs: step.completedAt - step.startedAt,
      attempt: step.attempt,
    };
    previous = step.completedAt;
    return share;
  });
}
