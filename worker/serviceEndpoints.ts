// What a worker run as a service offers its platform: Temporal's SDK metrics in Prometheus' format
// (REFIT_WORKER_METRICS_ADDRESS, served by the SDK's own runtime) and health endpoints for liveness and
// readiness probes (REFIT_WORKER_HEALTH_ADDRESS): /livez answers 200 while the worker has not failed, /readyz
// 200 while it polls its queues, 503 once it drains for shutdown, so that no new work is routed to it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorTypes, RefitError } from '../shared/errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "host:port", ":port" (every interface) or "port": what the worker settings take. */
export function parseListenAddress(variable: string, value: string): ListenAddress {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new RefitError(
      ErrorTypes.WorkerSetup,
      `${variable}=${JSON.stringify(value)} is not an address to listen on: give host:port, :port or a port (e.g. 0.0.0.0:9464)`,
    );
  }
  const host = match[1] ? match[1].replace(/^\[|\]$/g, '') : '0.0.0.0';
  return { host, port };
}

export function formatAddress({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export type WorkerHealth = () => 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

export interface HealthServer {
  address: ListenAddress;
  close(): Promise<void>;
}

export async function startHealthServer(address: ListenAddress, health: WorkerHealth): Promise<HealthServer> {
  const server = http.createServer((request, response) => {
    const state = health();
    const answer = (ok: boolean) => response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${state}\n`);
    if (request.url === '/livez') answer(state !== 'failed');
    else if (request.url === '/readyz') answer(state === 'running');
    else response.writeHead(404, { 'content-type': 'text/plain' }).end('the worker answers /livez and /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new RefitError(ErrorTypes.WorkerSetup, `REFIT_WORKER_HEALTH_ADDRESS: cannot listen on ${formatAddress(address)}: ${err.code ?? err.message}`)),
    );
    server.listen(address.port, address.host, resolve);
  });
  return {
    address: { host: address.host, port: (server.address() as AddressInfo).port },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
