// A real HTTP server on loopback that records every request, for notification tests. Paths listed in
// `failing` answer 500, to check that a webhook that stays down never fails or repeats a deploy; paths in
// `redirects` answer with a redirect, to check where a webhook's headers may follow.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  to(path: string): RecordedRequest[];
  failing: Set<string>;
  redirects: Map<string, { status: number; location: string }>;
  stop(): Promise<void>;
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const failing = new Set<string>();
  const redirects = new Map<string, { status: number; location: string }>();
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      requests.push({ method: request.method ?? 'GET', path, headers: request.headers, body });
      const redirect = redirects.get(path);
      if (redirect) response.writeHead(redirect.status, { location: redirect.location }).end();
      else response.writeHead(failing.has(path) ? 500 : 200, { 'content-type': 'application/json' }).end('{"ok": true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    to: (path) => requests.filter((request) => request.path === path),
    failing,
    redirects,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
