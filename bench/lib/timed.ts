// Runs a command under GNU time (/usr/bin/time): its wall time and the CPU of it and every child it waited for.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nowMs } from './stats.js';

export interface TimedRun {
  wallMs: number;
  cpuS: number;
  /** What the command printed (stdout and stderr). */
  output: string;
}

/** Rejects when the command exits other than 0, with the end of its output. */
export async function timedRun(command: string, args: string[], env: Record<string, string>): Promise<TimedRun> {
  const timeFile = path.join(os.tmpdir(), `refit-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  const started = nowMs();
  try {
    const output = await new Promise<string>((resolve, reject) => {
      let printed = '';
      const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', command, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve(printed) : reject(new Error(`${path.basename(args[0] ?? command)} exited ${code}:\n${printed.slice(-2000)}`)),
      );
    });
    const wallMs = nowMs() - started;
    const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    return { wallMs, cpuS: user! + system!, output };
  } finally {
    rmSync(timeFile, { force: true });
  }
}
