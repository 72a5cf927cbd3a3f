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
    // A local activity runs inside a workflow task: its marker is written when that task completes, so
    // its whole share is "workflow task" time (no dispatch, no execution of its own in the history).
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const activity = localActivityType(marker.details?.data?.payloads?.[0]?.data);
      steps.set(id, { activity, scheduledAt: at(event), startedAt: at(event), completedAt: at(event), attempt: 1 });
    }
    // The deploy phase is the model's promotion, a child workflow: its window from initiated to completed.
    const initiated = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (initiated)
      steps.set(id, { activity: initiated.workflowType?.name ?? '?', scheduledAt: at(event), startedAt: Number.NaN, completedAt: Number.NaN, attempt: 1 });
    const childStarted = event.childWorkflowExecutionStartedEventAttributes;
    if (childStarted) {
      const step = steps.get(String(childStarted.initiatedEventId));
      if (step) step.startedAt = at(event);
    }
    const childCompleted = event.childWorkflowExecutionCompletedEventAttributes;
    if (childCompleted) {
      const step = steps.get(String(childCompleted.initiatedEventId));
      if (step) step.completedAt = at(event);
    }
  }
  return { startedAt, closedAt, steps: [...steps.values()] };
}

/** The activity type in a local activity marker's data (JSON written by the SDK's core). */
function localActivityType(data: Uint8Array | null | undefined): string {
  try {
    return (JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string }).activity_type ?? '?';
  } catch {
    return '?';
  }
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
