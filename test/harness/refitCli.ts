// The real `refit` command, run as a user runs it: its own process, a Refit home of the test's, stdin piped in.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../platform/paths.js';

const cli = path.join(packageRoot(), 'dist', 'client', 'cli.js');

/** Runs `refit` with `stdin` piped in, as `echo value | refit secrets set name` would. */
export function refitWithHome(home: string, args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, REFIT_HOME: home, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
