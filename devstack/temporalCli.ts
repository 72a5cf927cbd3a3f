import { existsSync } from 'node:fs';
import { runInstaller } from './installers.js';

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
  const binary = await runInstaller('install-temporal.sh', 'the Temporal CLI is needed for the embedded dev server');
  if (!existsSync(binary)) throw new Error(`scripts/install-temporal.sh printed "${binary}", which is not a file`);
  return binary;
}
