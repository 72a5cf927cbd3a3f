// A real, throwaway PostgreSQL server for one test file: its own data folder, port and password, tethered to
// the test process so that it dies with it (even on SIGKILL) and its folder is removed.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../platform/freePort.js';
import { spawnTethered } from '../../platform/tethered.js';
import { hasExited, logTail } from '../../platform/processes.js';
import { runInstaller } from '../../devstack/installers.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface TestPostgres {
  /** postgres://refit:<password>@127.0.0.1:<port>/analytics */
  url: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** The user's password, so tests can check that no message shows it. */
  password: string;
  /** Fast shutdown (clients are disconnected); resolves once the server is gone and its folder removed. */
  stop(): Promise<void>;
}

/** Starts PostgreSQL on 127.0.0.1 with a database `analytics` owned by user `refit`, who logs in with a password. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = await postgresBinDir();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-pg-'));
  const dataDir = path.join(dir, 'data');
  const runAs = serverUser();
  let tether: ChildProcess | undefined;
  try {
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    // Local (socket) logins are trusted so the harness can set up; TCP logins, the ones tests use, need the password.
    await run(
      path.join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { cwd: dir, ...runAs },
    ).catch((err: Error & { stderr?: string }) => {
      throw new Error(`initdb failed: ${err.stderr?.trim() || err.message}`);
    });
    const port = await freePort();
    const logFile = path.join(dir, 'postgres.log');
    const settings = {
      listen_addresses: '127.0.0.1',
      port: String(port),
      unix_socket_directories: dir,
      // A throwaway server: durability only costs time.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    };
    const args = Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    tether = spawnTethered(logFile, path.join(bin, 'postgres'), ['-D', dataDir, ...args], { cwd: dir, removeOnExit: dir, ...runAs });
    const user = 'refit';
    const database = 'analytics';
    const password = `pw-${randomBytes(12).toString('hex')}@/`;
    await waitUntilAccepting(dir, port, tether, logFile);
    await asAdmin(dir, port, async (admin) => {
      await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
      await admin.query(`CREATE DATABASE ${database} OWNER ${user}`);
    });
    const server = tether;
    return {
      url: `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
      host: '127.0.0.1',
      port,
      database,
      user,
      password,
      stop: () => stopServer(server, dataDir),
    };
  } catch (err) {
    if (tether) await stopServer(tether, dataDir);
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The folder holding initdb and postgres, from scripts/install-postgres.sh (instant once installed). */
function postgresBinDir(): Promise<string> {
  return runInstaller('install-postgres.sh', 'PostgreSQL is needed for these tests');
}

/** PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user Debian's package creates. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (!entry) throw new Error('running as root, PostgreSQL needs the `postgres` system user: run scripts/install-postgres.sh');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

async function asAdmin<T>(socketDir: string, port: number, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: socketDir, port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function waitUntilAccepting(socketDir: string, port: number, tether: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(tether)) throw new Error(`PostgreSQL exited during start-up; its log ends with:\n${logTail(logFile)}`);
    try {
      await asAdmin(socketDir, port, (admin) => admin.query('SELECT 1'));
      return;
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS} ms (${lastError}); its log ends with:\n${logTail(logFile)}`);
}

async function stopServer(tether: ChildProcess, dataDir: string): Promise<void> {
  if (hasExited(tether)) return;
  const gone = new Promise<void>((resolve) => tether.once('exit', () => resolve()));
  // SIGINT is PostgreSQL's fast shutdown; the tether's SIGTERM would be a smart one, waiting for every client.
  const postmaster = Number(readFileIfAny(path.join(dataDir, 'postmaster.pid')).split('\n')[0]);
  if (postmaster > 0) signal(postmaster, 'SIGINT');
  else tether.kill('SIGTERM');
  const timer = setTimeout(() => tether.kill('SIGTERM'), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function readFileIfAny(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
