// The local cluster's OCI registry: go-containerregistry's registry (`crane registry serve`) on the node's
// bridge address, its blobs in the cluster's folder, and `crane` to put images into it. containerd on the node
// pulls from it and build pods push to it, over plain HTTP (containerd.ts writes its hosts.toml; crane takes a
// private address as plain HTTP); the guard chains keep everything but this machine and its pods away.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../platform/freePort.js';
import { probe, startServer, waitUntilServing, type ServerProcess } from './serverProcess.js';

const run = promisify(execFile);

export interface Registry {
  /** host:port */
  address: string;
  server: ServerProcess;
}

/** Starts the registry on `host` (the node's bridge address; loopback where there is no node). */
export async function startRegistry(dir: string, bin: string, host = '127.0.0.1'): Promise<Registry & { port: number }> {
  const port = await freePort();
  const blobs = path.join(dir, 'registry');
  mkdirSync(blobs, { recursive: true });
  const address = `${host}:${port}`;
  const server = startServer(dir, path.join(bin, 'crane'), ['registry', 'serve', '--address', address, '--disk', blobs]);
  await waitUntilServing(server, () => probe(`http://${address}/v2/`));
  return { address, server, port };
}

/** `crane push` of an image tarball to `reference`; resolves to the pushed digest. */
export async function pushImage(bin: string, tarball: string, reference: string): Promise<string> {
  try {
    const { stdout } = await run(path.join(bin, 'crane'), ['push', tarball, reference], { maxBuffer: 1 << 20 });
    return stdout.trim();
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`crane push ${tarball} ${reference} failed: ${detail}`, { cause: err });
  }
}
