import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from './paths.js';

const run = promisify(execFile);

/**
 * Path of the Temporal CLI binary: REFIT_TEMPORAL_BIN if set, else the one scripts/install-temporal.sh
 * installs into the tools folder (running it when needed; it is a no-op once installed).
 */
export async function temporalCliPath(): Promise<string> {
  const fromEnv = process.env.REFIT_TEMPORAL_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`REFIT_TEMPORAL_BIN points at ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  const script = path.join(packageRoot(), 'scripts', 'install-temporal.sh');
  try {
    const { stdout } = await run('bash', [script], { maxBuffer: 1 << 20 });
    const binary = stdout.trim().split('\n').pop() ?? '';
    if (!existsSync(binary)) throw new Error(`the installer printed "${binary}", which is not a file`);
    return binary;
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`could not install the Temporal CLI with ${script}:\n${detail}`, { cause: err });
  }
}
