// Where Refit connects, from the standard Temporal configuration: the same for the client and the worker.
import { createRequire } from 'node:module';
import { DEFAULT_TASK_QUEUE } from '../shared/names.js';
import { runningDevServer } from './devStackRecord.js';

// With require, not an ESM import, for the start of every `refit` command: see client/temporalClient.ts.
const { loadClientConnectConfig } = createRequire(import.meta.url)('@temporalio/envconfig') as typeof import('@temporalio/envconfig');

/**
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and the profiles of temporal.toml
 * (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE): the settings the `temporal` CLI reads. Without an address there, the
 * dev stack of this Refit home when one runs (`refit dev` records it), else localhost:7233.
 */
export function temporalSettings(overrides: { address?: string; namespace?: string } = {}) {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: {
      ...connectionOptions,
      address: overrides.address ?? connectionOptions.address ?? runningDevServer()?.address ?? 'localhost:7233',
    },
    namespace: overrides.namespace ?? namespace ?? 'default',
    taskQueue: process.env.REFIT_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}

export type TemporalSettings = ReturnType<typeof temporalSettings>;

/** A connection attempt whose failure says where Refit tried to connect and what to do. */
export async function explainConnectFailure<T>(settings: TemporalSettings, connecting: Promise<T>): Promise<T> {
  try {
    return await connecting;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot connect to Temporal at ${settings.connectionOptions.address} (namespace "${settings.namespace}"): ${reason}\n` +
        'Start the embedded server with `make dev`, or point TEMPORAL_ADDRESS (or a temporal.toml profile) at your cluster.',
      { cause: err },
    );
  }
}
