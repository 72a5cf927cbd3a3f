import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributes } from '../shared/names.js';
import { freePort } from '../platform/freePort.js';
import { exited, hasExited, logTail } from '../platform/processes.js';
import { spawnTethered } from '../platform/tethered.js';
import { temporalCliPath } from './temporalCli.js';

export interface DevServerOptions {
  /** SQLite file holding the server's state; runs survive a restart on the same file. */
  dbFile: string;
  /** Folder for the server log. */
  stateDir: string;
  /** gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted. Ignored when headless. */
  uiPort?: number;
  headless?: boolean;
  /** How long to wait for the server to answer before giving up. */
  startTimeoutMs?: number;
  /** Delete stateDir once the server has stopped, however this process ends (tests use throwaway state). */
  removeStateDirOnExit?: boolean;
}

export interface DevServer {
  /** host:port of the frontend gRPC service. */
  address: string;
  namespace: string;
  uiUrl?: string;
  logFile: string;
  /** PID of the tether process that owns the server (killing it stops the server). */
  pid: number;
  stop(): Promise<void>;
}

/** How often the server's one history shard may read its transfer queue (Temporal's default is 20). */
const TRANSFER_QUEUE_READS_PER_SECOND = 1000;

function searchAttributeFlags(): string[] {
  return Object.entries(SearchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

async function waitUntilServing(address: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      throw new Error(`the Temporal dev server exited during start-up; its log (${logFile}) ends with:\n${logTail(logFile)}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the Temporal dev server did not answer on ${address} within ${timeoutMs} ms (${lastError}); log: ${logFile}`);
}

/**
 * Starts `temporal server start-dev` with Refit's search attributes registered, tethered to this process
 * so that it cannot outlive it, and resolves once it answers gRPC calls.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  mkdirSync(options.stateDir, { recursive: true });
  const binary = await temporalCliPath();
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const logFile = path.join(options.stateDir, 'temporal-server.log');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--db-filename',
    options.dbFile,
    '--log-level',
    'warn',
    // SQLite's default rollback journal syncs the disk several times per write: every workflow task and
    // activity paid for it. A write-ahead log synced at checkpoints keeps every committed run through a
    // crash or kill of the server (not through a power cut of the machine).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // The dev server has one history shard, and by default its transfer queue (which hands each new workflow
    // or activity task on to matching) is read at most 20 times a second: every step that followed a quick one
    // waited for the next read, ~45 ms (measured: 42 ms per dispatch for a no-op activity, 3 ms with this).
    // The queue is read when a task is written, so an idle server reads no more often than before.
    '--dynamic-config-value',
    `history.transferProcessorMaxPollRPS=${TRANSFER_QUEUE_READS_PER_SECOND}`,
    ...(options.headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
    ...searchAttributeFlags(),
  ];
  const child = spawnTethered(logFile, binary, args, { removeOnExit: options.removeStateDirOnExit ? options.stateDir : undefined });
  const address = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
  };
  try {
    await waitUntilServing(address, child, logFile, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    address,
    namespace: 'default',
    uiUrl: options.headless ? undefined : `http://127.0.0.1:${uiPort}`,
    logFile,
    pid: child.pid!,
    stop,
  };
}
