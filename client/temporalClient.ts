// The parts of @temporalio/client the `refit` commands use, loaded with require. Imported from ESM, a
// CommonJS package is first read and scanned for its export names, with every module it re-exports: for
// the Temporal client that was ~40 ms of each command's start (the package is loaded either way).
import { createRequire } from 'node:module';

type TemporalClient = typeof import('@temporalio/client');

const temporalClient = createRequire(import.meta.url)('@temporalio/client') as TemporalClient;

export const { Client, Connection, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowFailedError, WorkflowUpdateFailedError } =
  temporalClient;

export type Client = import('@temporalio/client').Client;
export type Connection = import('@temporalio/client').Connection;
export type ScheduleOverlapPolicy = import('@temporalio/client').ScheduleOverlapPolicy;
export type {
  ScheduleDescription,
  ScheduleHandle,
  ScheduleOptions,
  ScheduleSpec,
  ScheduleUpdateOptions,
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
