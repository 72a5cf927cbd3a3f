// One rule for every activity: a RefitError says what the user must change, so retrying cannot help and it
// fails the activity at once, as a non-retryable ApplicationFailure of its own type. Everything else is
// retried by the activity's retry policy. Applied by the worker to every activity, so none can forget it.
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { RefitError } from '../shared/errors.js';

export const classifyRefitErrors: ActivityInboundCallsInterceptor = {
  async execute(input, next) {
    try {
      return await next(input);
    } catch (err) {
      if (err instanceof RefitError) {
        throw ApplicationFailure.create({
          message: err.message,
          type: err.type,
          nonRetryable: true,
          cause: err.cause instanceof Error ? err.cause : undefined,
        });
      }
      throw err;
    }
  },
};

export const activityInterceptors: ActivityInterceptorsFactory = () => ({ inbound: classifyRefitErrors });
