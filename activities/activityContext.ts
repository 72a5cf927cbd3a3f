// How activities meet Temporal: heartbeats on long steps. (Failures that retrying cannot fix are turned
// into non-retryable ones by the worker's activity interceptor, worker/errorClassification.ts.)
import { Context } from '@temporalio/activity';
import { HEARTBEAT_EVERY_MS } from '../shared/stepLimits.js';

/**
 * Long steps heartbeat every few seconds whatever their progress, so that a model that trains (or a
 * server that loads) in silence for minutes is not taken for a dead worker; each heartbeat carries the
 * latest progress reported through `progress`.
 */
export async function withHeartbeat<T>(work: (progress: (details: unknown) => void) => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const context = Context.current();
  let latest: unknown;
  const progress = (details: unknown) => {
    latest = details;
    context.heartbeat(details);
  };
  const timer = setInterval(() => context.heartbeat(latest), everyMs);
  try {
    return await work(progress);
  } finally {
    clearInterval(timer);
  }
}
