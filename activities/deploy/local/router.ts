// The local router of one model: a detached process that sends each Open Inference Protocol request to a
// pod of a variation (by the x-refit-variation header or by weight, pods in turn). It reads the model's
// state file at start and again on SIGHUP, which the deployment target sends after every switch. GET /metrics
// answers the router's own counts per variation (routerMetrics.ts); GET /-/routes the digest of the state it
// routes by, so the target can wait until a switch is in effect before it reports the switch done.
// Usage: node router.js <stateFile> <port>
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { stateDigest, type ModelServingState } from './servingState.js';
import { choosePods, chooseVariation, ROUTES_PATH, VARIATION_HEADER } from './routing.js';
import { isInferenceRequest, RouterMetrics } from './routerMetrics.js';

const [stateFile, portText] = process.argv.slice(2);
if (!stateFile || !portText) {
  console.error('usage: router <stateFile> <port>');
  process.exit(2);
}

let loaded = load();
let state: ModelServingState = loaded.state;
const turn = new Map<string, number>();
const metrics = new RouterMetrics(state.modelId);

function load(): { state: ModelServingState; digest: string } {
  const text = readFileSync(stateFile!, 'utf8');
  return { state: JSON.parse(text) as ModelServingState, digest: stateDigest(text) };
}

process.on('SIGHUP', () => {
  try {
    loaded = load();
    state = loaded.state;
  } catch (err) {
    console.error(`router: keeping the previous routes, cannot read ${stateFile}: ${(err as Error).message}`);
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

const server = http.createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/metrics') {
    void metrics.exposition().then((text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text));
    return;
  }
  if (request.method === 'GET' && request.url === ROUTES_PATH) {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ modelId: state.modelId, digest: loaded.digest }));
    return;
  }
  const requested = request.headers[VARIATION_HEADER];
  const variation = chooseVariation(state, Array.isArray(requested) ? requested[0] : requested, Math.random());
  const chosen = variation && state.variations[variation] ? choosePods(state.variations[variation]!, Math.random()) : undefined;
  const pods = chosen?.pods ?? [];
  if (!variation || pods.length === 0) {
    const message = requested ? `variation "${requested}" is not serving` : `model "${state.modelId}" has no serving pods`;
    response.writeHead(requested ? 404 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }));
    return;
  }
  const key = `${variation}/${chosen!.buildId}`;
  const next = turn.get(key) ?? 0;
  turn.set(key, next + 1);
  const pod = pods[next % pods.length]!;
  if (isInferenceRequest(request.method, request.url)) {
    const finished = metrics.started(variation, chosen!.buildId);
    response.on('close', () => finished(response.statusCode));
  }
  const upstream = http.request({ host: '127.0.0.1', port: pod.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
    response.writeHead(answer.statusCode ?? 502, { ...answer.headers, [VARIATION_HEADER]: variation });
    answer.pipe(response);
  });
  upstream.on('error', (err) => {
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `pod ${pod.port} of variation ${variation} did not answer: ${err.message}` }));
  });
  request.pipe(upstream);
});

server.listen(Number(portText), '127.0.0.1', () => console.log(`refit-router: ${state.modelId} on http://127.0.0.1:${portText}`));
