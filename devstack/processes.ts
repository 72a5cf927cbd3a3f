// Small things every piece that starts servers needs: the installer scripts' answer, whether a child
// has ended, and the end of a log for an error message.
import { execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from './paths.js';

const run = promisify(execFile);

/**
 * Runs scripts/<script> (an installer: a no-op once its tool is there) and returns the last line it
 * prints, which each installer makes the path of what it installed. `need` completes "… is needed for"
 * in the error, which carries the script's own explanation of what to do.
 */
export async function runInstaller(script: string, need: string, args: string[] = []): Promise<string> {
  const file = path.join(packageRoot(), 'scripts', script);
  try {
    const { stdout } = await run('bash', [file, ...args], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').pop() ?? '';
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`${need}, and ${file} could not provide it:\n${detail}`, { cause: err });
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exited(child: ChildProcess): Promise<void> {
  return hasExited(child) ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The last lines of a log file, for an error message; says so when there is none. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

/** Every process on this machine with its command line, arguments joined by spaces (Linux /proc). */
export function runningProcesses(): { pid: number; command: string }[] {
  const processes: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      processes.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // It ended while we looked.
    }
  }
  return processes;
}
