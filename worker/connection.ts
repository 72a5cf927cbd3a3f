// The worker's native connection to Temporal, from the same settings the client reads.
import { NativeConnection } from '@temporalio/worker';
import { explainConnectFailure, type TemporalSettings } from '../platform/temporalSettings.js';

export function connectWorker(settings: TemporalSettings): Promise<NativeConnection> {
  return explainConnectFailure(settings, NativeConnection.connect(settings.connectionOptions));
}
