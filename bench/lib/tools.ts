// The servers' binaries, from the project's own install scripts (each a no-op once installed).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../platform/paths.js';

const run = promisify(execFile);

/** The folder holding PostgreSQL's initdb, postgres and (usually) psql: the last line scripts/install-postgres.sh prints. */
export async function postgresBinDir(): Promise<string> {
  const { stdout } = await run('bash', [path.join(packageRoot(), 'scripts', 'install-postgres.sh')]);
  return stdout.trim().split('\n').pop() ?? '';
}
