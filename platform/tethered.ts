// Starting a process under the tether (tether.ts): it cannot outlive this process, even when this one is
// killed with SIGKILL, and its output goes to a log file.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface TetherOptions {
  /** The command's whole environment (nothing else of this process's is passed on). */
  env?: Record<string, string>;
  /** A throwaway folder to delete once the command is gone. */
  removeOnExit?: string;
  /** Run the command as this user and group (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Values masked (***) wherever the command prints them, before they reach the log. */
  mask?: string[];
}

const tetherPath = fileURLToPath(new URL('./tether.js', import.meta.url));

/**
 * Starts `command` under the tether, its output appended to `logFile`. The tether's own errors go to
 * `stderr` ('pipe' to read them, 'inherit' to show them). Kill the returned process to stop the command.
 */
export function spawnTethered(
  logFile: string,
  command: string,
  args: string[],
  options: TetherOptions & { cwd?: string; stderr?: 'pipe' | 'inherit' | 'ignore' } = {},
): ChildProcess {
  const { cwd, stderr = 'inherit', ...tether } = options;
  const stdio: StdioOptions = ['pipe', 'ignore', stderr];
  const child = spawn(process.execPath, [tetherPath, logFile, command, ...args], {
    cwd,
    stdio,
    // The tether itself needs nothing from the environment; the command gets options.env.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  // The parent keeps stdin open for as long as it lives: its end is what tells the tether to stop.
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(`${JSON.stringify({ ...tether, env: tether.env ?? inheritedEnvironment() })}\n`);
  return child;
}

function inheritedEnvironment(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
