// Small things every piece that starts processes needs: whether a child has ended, the end of a log for
// an error message, and what runs on this machine.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * The first line on this process's stdin, parsed as JSON: how owner processes (the tether, the local
 * cluster's owner) get their options from the process that started them, which then holds stdin open.
 */
export function readJsonLineFromStdin<T>(): Promise<T> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline === -1) return;
      process.stdin.off('data', onData);
      try {
        resolve(JSON.parse(text.slice(0, newline)) as T);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    process.stdin.on('data', onData);
  });
}
