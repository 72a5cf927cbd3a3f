// The client's connection to Temporal (the worker's native one is in worker/connection.ts).
import { Client, Connection } from './temporalClient.js';
import { explainConnectFailure, type TemporalSettings } from '../platform/temporalSettings.js';

export { temporalSettings, type TemporalSettings } from '../platform/temporalSettings.js';

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await explainConnectFailure(settings, Connection.connect(settings.connectionOptions));
  return new Client({ connection, namespace: settings.namespace });
}
