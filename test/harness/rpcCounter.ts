// Counts the gRPC calls a client makes, by method: a count that does not depend on the machine's speed (the bench and tests).
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

export class RpcCounter {
  private readonly counts = new Map<string, number>();
  /** When each call was sent (ms since the epoch), by method. */
  readonly sentAt = new Map<string, number[]>();

  /** Temporal's default retry interceptor, then the counter: each attempt sent is counted. */
  interceptors(): Interceptor[] {
    const counting: Interceptor = (options, nextCall) => {
      const method = options.method_definition.path.split('/').pop() ?? options.method_definition.path;
      this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
      this.sentAt.set(method, [...(this.sentAt.get(method) ?? []), Date.now()]);
      return nextCall(options) as ReturnType<Interceptor>;
    };
    return [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), counting];
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Calls made since `before` (a snapshot), by method. */
  since(before: Record<string, number>): Record<string, number> {
    const delta: Record<string, number> = {};
    for (const [method, count] of this.counts) {
      const added = count - (before[method] ?? 0);
      if (added > 0) delta[method] = added;
    }
    return delta;
  }
}

export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
