// The installer scripts in scripts/, run from code that needs the tool they install.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../platform/paths.js';

const run = promisify(execFile);

/**
 * Runs scripts/<script> (an installer: a no-op once its tool is there) and returns the last line it
 * prints, which each installer makes the path of what it installed. `need` completes "… is needed for"
 * in the error, which carries the script's own explanation of what to do.
 */
export async function runInstaller(script: string, need: string, args: string[] = []): Promise<string> {
  return (await installerLines(script, need, args)).pop() ?? '';
}

/** Every line the installer printed on stdout (some report more than a path: the last line is still the path). */
export async function installerLines(script: string, need: string, args: string[] = []): Promise<string[]> {
  const file = path.join(packageRoot(), 'scripts', script);
  try {
    const { stdout } = await run('bash', [file, ...args], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n');
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`${need}, and ${file} could not provide it:\n${detail}`, { cause: err });
  }
}
