// How activities meet Temporal: failures that retrying cannot fix, and heartbeats on long steps.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { RefitError } from '../shared/errors.js';

/**
 * Long steps heartbeat every few seconds whatever their progress, so that a model that trains (or a
 * server that loads) in silence for minutes is not taken for a dead worker; each heartbeat carries the
 * latest progress reported through `progress`.
 */
export async function withHeartbeat<T>(work: (progress: (details: unknown) => void) => Promise<T>, everyMs = 5_000): Promise<T> {
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

/** RefitErrors say what the user must change: retrying cannot help, so they fail at once. */
export async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RefitError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

