// A real git server over HTTP (for tests and the demo): git's own `git http-backend` (smart HTTP, protocol v2, partial
// clone) behind a Node HTTP server that demands a token, like GitHub or GitLab do for private repos.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GitServer {
  /** http://127.0.0.1:PORT (or the host it was started on) */
  url: string;
  port: number;
  /** The token every request must carry as the Basic-auth password. */
  token: string;
  /** Every request the server saw: method, path, whether it was authorized. */
  requests: { method: string; path: string; authorized: boolean }[];
  /** The next `count` git requests fail with `status` (a flaky server, for retry tests). */
  failNext(count: number, status?: number): void;
  /** Publishes a folder as a repository `name.git` with one commit per call on `branch`; returns the commit. */
  publish(name: string, folder: string, options?: { branch?: string; message?: string }): Promise<string>;
  stop(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Refit Tests',
  GIT_AUTHOR_EMAIL: 'tests@refit.invalid',
  GIT_COMMITTER_NAME: 'Refit Tests',
  GIT_COMMITTER_EMAIL: 'tests@refit.invalid',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: { ...process.env, ...GIT_ENV } });
  return stdout.trim();
}

/**
 * Starts the server on loopback (or `host`: the node's bridge address, for build pods), on `port` if given
 * (and free), else on a free port.
 */
export async function startGitServer(token: string, port = 0, host = '127.0.0.1'): Promise<GitServer> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'refit-git-'));
  const projects = path.join(root, 'projects');
  const worktrees = path.join(root, 'worktrees');
  mkdirSync(projects);
  mkdirSync(worktrees);
  const requests: GitServer['requests'] = [];
  let failures = { count: 0, status: 503 };

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const authorized = checkToken(request.headers.authorization, token);
    requests.push({ method: request.method ?? 'GET', path: url.pathname, authorized });
    if (failures.count > 0) {
      failures = { ...failures, count: failures.count - 1 };
      response.writeHead(failures.status).end('temporarily unavailable\n');
      return;
    }
    if (!authorized) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="refit-tests"' }).end('authentication required\n');
      return;
    }
    const backend = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projects,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: request.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: request.headers['content-type'] ?? '',
        REMOTE_USER: 'tests',
        REMOTE_ADDR: '127.0.0.1',
        ...(request.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(request.headers['content-encoding']) } : {}),
        ...(request.headers['git-protocol'] ? { GIT_PROTOCOL: String(request.headers['git-protocol']) } : {}),
      },
    });
    request.pipe(backend.stdin);
    relayCgiResponse(backend.stdout, response);
    backend.stderr.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' && port ? server.listen(0, host, resolve) : reject(err)));
    server.listen(port, host, resolve);
  });
  const listening = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${listening}`,
    port: listening,
    token,
    requests,
    failNext(count, status = 503) {
      failures = { count, status };
    },
    async publish(name, folder, options = {}) {
      const branch = options.branch ?? 'main';
      const worktree = path.join(worktrees, name);
      const bare = path.join(projects, `${name}.git`);
      mkdirSync(worktree, { recursive: true });
      if (!existsSync(path.join(worktree, '.git'))) {
        await git(worktree, 'init', '--quiet', '--initial-branch', branch);
        await run('git', ['init', '--quiet', '--bare', bare]);
        await git(bare, 'config', 'uploadpack.allowFilter', 'true');
        await git(bare, 'config', 'uploadpack.allowAnySHA1InWant', 'true');
        await git(worktree, 'remote', 'add', 'origin', bare);
      }
      const current = await git(worktree, 'rev-parse', '--abbrev-ref', 'HEAD').catch(() => branch);
      if (current !== branch) await git(worktree, 'checkout', '--quiet', '-B', branch);
      // Replace the tree with the folder's content, so each publish is a snapshot of it.
      for (const entry of await run('git', ['ls-files'], { cwd: worktree }).then(({ stdout }) => stdout.split('\n').filter(Boolean))) {
        rmSync(path.join(worktree, entry), { force: true });
      }
      cpSync(folder, worktree, { recursive: true, filter: (source) => !/(__pycache__|\.venv|\.pytest_cache)/.test(source) });
      await git(worktree, 'add', '--all');
      await git(worktree, 'commit', '--quiet', '--allow-empty', '-m', options.message ?? `publish ${name}`);
      await git(worktree, 'push', '--quiet', '--force', 'origin', branch);
      return git(worktree, 'rev-parse', 'HEAD');
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function checkToken(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1) === token;
}

/** A CGI response is headers (with "Status:"), a blank line, then the body. */
function relayCgiResponse(output: NodeJS.ReadableStream, response: http.ServerResponse): void {
  let buffered = Buffer.alloc(0);
  let headersDone = false;
  output.on('data', (chunk: Buffer) => {
    if (headersDone) {
      response.write(chunk);
      return;
    }
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n') !== -1 ? buffered.indexOf('\r\n\r\n') : buffered.indexOf('\n\n');
    if (end === -1) return;
    const separator = buffered[end] === 13 ? 4 : 2;
    const headerLines = buffered.subarray(0, end).toString('utf8').split(/\r?\n/);
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers);
    headersDone = true;
    response.write(buffered.subarray(end + separator));
  });
  output.on('end', () => response.end());
}
