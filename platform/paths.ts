import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding Refit's package.json, found from this module's location (source or dist/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the Refit package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** Refit's per-user state: tools, the embedded server's database, secrets, build logs. */
export function refitHome(): string {
  return process.env.REFIT_HOME ?? path.join(os.homedir(), '.cache', 'refit');
}
