// Starting and stopping a local cluster from another process (the tests' global set-up, `refit dev`): the
// cluster lives in localClusterMain.ts, which undoes the node's changes to the machine when this process
// stops it or dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hasExited, logTail } from '../../platform/processes.js';
import type { LocalClusterInfo, LocalClusterOptions } from './localCluster.js';

const mainPath = fileURLToPath(new URL('./localClusterMain.js', import.meta.url));

export interface LocalClusterProcess {
  info: LocalClusterInfo;
  process: ChildProcess;
  /** Stops the cluster; resolves once it is gone, rejects with what could not be undone. */
  stop(): Promise<void>;
}

/** Starts the owner process and resolves once the cluster is ready. Progress goes to `logFile`, or to this process's stderr. */
export function startLocalClusterProcess(options: Omit<LocalClusterOptions, 'log'>, logFile?: string): Promise<LocalClusterProcess> {
  const stderr = logFile ? openSync(logFile, 'a') : 'inherit';
  const child = spawn(process.execPath, [mainPath], { stdio: ['pipe', 'pipe', stderr], detached: false });
  // Its stdin stays open for as long as this process lives: its end is what tells the owner to stop.
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(`${JSON.stringify(options)}\n`);
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const stop = async () => {
    if (!hasExited(child)) child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`the local cluster did not stop cleanly${logFile ? `; its log ends with:\n${logTail(logFile)}` : ' (see above)'}`);
  };
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline === -1) return;
      const answer = JSON.parse(text.slice(0, newline)) as { ready?: LocalClusterInfo; error?: string };
      if (answer.ready) resolve({ info: answer.ready, process: child, stop });
      else reject(new Error(answer.error ?? 'the local cluster did not start'));
    });
    void exited.then((code) =>
      reject(new Error(`the local cluster's process exited (${code}) before the cluster was ready${logFile ? `:\n${logTail(logFile)}` : ''}`)),
    );
  });
}
