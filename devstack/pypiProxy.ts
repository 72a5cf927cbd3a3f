// A caching proxy of this machine's Python package index (proxpi, from scripts/install-pypi-proxy.sh) for
// build pods, which reach nothing off this machine: started on the node's bridge address, opened to pods,
// its cache in a folder that outlives it so later runs install from disk.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../platform/freePort.js';
import { refitHome } from '../platform/paths.js';
import { runInstaller } from './installers.js';
import { probe, startServer, stopServer, waitUntilServing } from './kubernetes/serverProcess.js';

export interface PypiProxy {
  /** The index URL pip takes (REFIT_PIP_INDEX_URL): http://host:port/index/ */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The index this machine's pip uses, which the proxy fetches from. */
export function upstreamIndex(env: NodeJS.ProcessEnv = process.env): string {
  return env.REFIT_PYPI_UPSTREAM || env.PIP_INDEX_URL || 'https://pypi.org/simple/';
}

export async function startPypiProxy(options: { host: string; dir: string; cacheDir?: string }): Promise<PypiProxy> {
  const flask = await runInstaller('install-pypi-proxy.sh', 'a PyPI caching proxy is needed for builds on the node');
  const cacheDir = options.cacheDir ?? path.join(refitHome(), 'pypi-proxy-cache');
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const server = startServer(options.dir, flask, ['--app', 'proxpi.server', 'run', '--host', options.host, '--port', String(port), '--with-threads'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PROXPI_INDEX_URL: upstreamIndex(),
      PROXPI_CACHE_DIR: cacheDir,
      PROXPI_CACHE_SIZE: String(5 << 30),
      ...(process.env.PIP_CERT ? { REQUESTS_CA_BUNDLE: process.env.PIP_CERT } : {}),
    },
  });
  const url = `http://${options.host}:${port}/index/`;
  try {
    // /health answers without fetching the upstream's project list (which is large).
    await waitUntilServing(server, () => probe(`http://${options.host}:${port}/health`));
  } catch (err) {
    await stopServer(server);
    throw err;
  }
  return { url, port, stop: () => stopServer(server) };
}
