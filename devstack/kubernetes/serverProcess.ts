// The servers of the local cluster (etcd, the API server, containerd, the kubelet, ...): each runs under the
// tether (it dies with the process that started it, even on SIGKILL), logs to a file in the cluster's folder,
// and counts as started once a check of its own passes.
import type { ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasExited } from '../../platform/processes.js';
import { spawnTethered } from '../../platform/tethered.js';

export const START_TIMEOUT_MS = 90_000;

export interface ServerProcess {
  name: string;
  logFile: string;
  /** The server's log, opened before it starts: it stays readable after a tether removes the folder. */
  log: number;
  tether: ChildProcess;
}

export interface StartOptions {
  /** A folder the tether removes once the server is gone. */
  removeOnExit?: string;
  env?: Record<string, string>;
}

export function startServer(dir: string, command: string, args: string[], options: StartOptions = {}): ServerProcess {
  const name = path.basename(command);
  const logFile = path.join(dir, `${name}.log`);
  const log = openSync(logFile, 'a+');
  const tether = spawnTethered(logFile, command, args, { cwd: dir, removeOnExit: options.removeOnExit, env: options.env });
  return { name, logFile, log, tether };
}

/** SIGTERM (the tether sends SIGKILL after its grace time); resolves once the server is gone. */
export async function stopServer(server: ServerProcess): Promise<void> {
  if (!hasExited(server.tether)) {
    const gone = new Promise<void>((resolve) => server.tether.once('exit', () => resolve()));
    server.tether.kill('SIGTERM');
    await gone;
  }
  if (server.log >= 0) closeSync(server.log);
  server.log = -1;
}

/** Resolves when `check` does; fails when the server exits or the deadline passes, with the end of its log. */
export async function waitUntilServing(server: ServerProcess, check: () => Promise<unknown>, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (hasExited(server.tether)) throw new Error(`${server.name} exited during start-up; its log (${server.logFile}) ends with:\n${tail(server.log)}`);
    try {
      await check();
      return;
    } catch (err) {
      lastError = (err as Error).message;
      await sleep(200);
    }
  }
  throw new Error(`${server.name} was not ready within ${timeoutMs} ms (${lastError}); its log (${server.logFile}) ends with:\n${tail(server.log)}`);
}

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** Accept any certificate (a server's self-made one, where only the answer matters). */
  insecure?: boolean;
}

/** GET `url`; resolves on 200, rejects with the status and the end of the body otherwise. */
export async function probe(url: string, tls: TlsFiles = {}): Promise<void> {
  const read = (file?: string) => file && readFileSync(file);
  const { status, body } = await request(url, { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key), rejectUnauthorized: !tls.insecure });
  if (status !== 200) throw new Error(`${url} answered ${status}: ${body.trim().split('\n').slice(-5).join(' | ')}`);
}

export function request(url: string, options: https.RequestOptions, body?: string): Promise<{ status: number; body: string }> {
  const timeoutMs = 10_000;
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? https.request : http.request;
    const outgoing = send(url, { timeout: timeoutMs, ...options }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

export function tail(log: number, lines = 20): string {
  if (log < 0) return '(log closed)';
  const { size } = fstatSync(log);
  const end = Buffer.alloc(Math.min(size, 64 * 1024));
  readSync(log, end, 0, end.length, size - end.length);
  return end.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty log)';
}
