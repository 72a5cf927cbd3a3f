// `refit/client`: Refit's client for scripts and services (what the `refit` command uses), and a connection from
// Temporal's standard settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles).
import { connectClient, temporalSettings } from './connection.js';
import { RefitClient } from './refitClient.js';

export { RefitClient, AutomationNotFoundError, RunRefusedError, type AutomationState, type RunRecord } from './refitClient.js';
export { connectClient, temporalSettings, type TemporalSettings } from './connection.js';
export { scheduleIdOf, type Registration, type RegistrationChange } from './schedules.js';
export type { BuildDeployResult, RunStatus } from '../shared/runTypes.js';
export type { ScaleStatusResult, RollbackResult, PlanRunResult } from '../shared/operations.js';

/** A RefitClient connected with the standard Temporal settings of this environment (and REFIT_TASK_QUEUE). */
export async function connectRefit(): Promise<RefitClient> {
  const settings = temporalSettings();
  return new RefitClient(await connectClient(settings), settings.taskQueue);
}
