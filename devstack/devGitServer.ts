// `refit dev`'s git server: the example model repository (examples/model-repo) served as `examples.git` on a fixed
// port (REFIT_DEV_GIT_PORT, default 8235) behind a token, as the demo serves it, so that `refit init` can write an
// automation that runs against it at once. The token is the secret dev_git_token of the home's secret store,
// made once and scoped to this server, so it survives restarts and goes nowhere else.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalSecretStore } from '../activities/secrets/localSecretStore.js';
import { DEV_GIT_REPOSITORY, DEV_GIT_SECRET, DEV_STATE_DIR, devGitPort } from '../platform/devStackRecord.js';
import { portInUse } from '../platform/freePort.js';
import { describeHolder, portHolder } from '../platform/portHolder.js';
import { packageRoot } from '../platform/paths.js';
import { startGitServer, type GitServer } from './gitServer.js';

export interface DevGitServer {
  server: GitServer;
  /** http://127.0.0.1:8235/examples.git */
  repository: string;
  commit: string;
  stop(): Promise<void>;
}

export async function startDevGitServer(home: string, port = devGitPort()): Promise<DevGitServer> {
  if (await portInUse(port)) {
    throw new Error(
      `port ${port} (the dev git server) is taken by ${describeHolder(portHolder(port))}: stop it, or give the dev stack another with REFIT_DEV_GIT_PORT`,
    );
  }
  const secrets = new LocalSecretStore(path.join(home, 'secrets'));
  const token = await secrets.read(DEV_GIT_SECRET).then(
    (secret) => secret.value,
    () => randomBytes(18).toString('base64url'),
  );
  await secrets.set(DEV_GIT_SECRET, token, { hosts: [`127.0.0.1:${port}`], automations: [] });
  const server = await startGitServer(token, port);
  const commit = await server.publish(DEV_GIT_REPOSITORY, path.join(packageRoot(), 'examples', 'model-repo'));
  const repository = `${server.url}/${DEV_GIT_REPOSITORY}.git`;
  const record = path.join(home, DEV_STATE_DIR, 'git.json');
  mkdirSync(path.dirname(record), { recursive: true });
  writeFileSync(record, JSON.stringify({ repository, secret: DEV_GIT_SECRET, pid: process.pid }, null, 2));
  return {
    server,
    repository,
    commit,
    async stop() {
      rmSync(record, { force: true });
      await server.stop();
    },
  };
}
