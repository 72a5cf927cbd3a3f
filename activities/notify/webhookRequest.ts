// One webhook request, made so that a receiver (untrusted) cannot turn it against the worker: no link-local
// or cloud-metadata address (checked on every address the name resolves to, at connect time), no redirect
// to another origin (it would take the headers, secrets among them), no POST silently turned into a GET.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { ErrorTypes, RefitError } from '../../shared/errors.js';

export interface WebhookPolicy {
  /** REFIT_WEBHOOK_ALLOW_LINK_LOCAL=true lets webhooks reach 169.254.0.0/16, fe80::/10 and metadata addresses. */
  allowLinkLocal: boolean;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = { allowLinkLocal: false };

export function webhookPolicyFromEnvironment(env: NodeJS.ProcessEnv = process.env): WebhookPolicy {
  return { allowLinkLocal: /^(1|true|yes)$/i.test(env.REFIT_WEBHOOK_ALLOW_LINK_LOCAL ?? '') };
}

export interface WebhookRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  policy?: WebhookPolicy;
  /** How the destination is named in messages (a stored URL is not shown). */
  shownAs: string;
}

export interface WebhookResponse {
  status: number;
  statusText: string;
}

const MAX_REDIRECTS = 3;
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.com', 'instance-data', 'instance-data.ec2.internal']);

/** Why an address may not be reached, or undefined when it may. */
export function forbiddenAddress(address: string): string | undefined {
  const family = net.isIP(address);
  if (family === 4) {
    const [a, b] = address.split('.').map(Number);
    if (a === 169 && b === 254) return 'a link-local address (cloud metadata services live there)';
    if (address === '100.100.100.200') return 'a cloud metadata address';
    if (a === 0) return 'an unspecified address';
  } else if (family === 6) {
    const lower = address.toLowerCase();
    // An IPv4 address mapped into IPv6, dotted (::ffff:169.254.1.1) or as URLs write it (::ffff:a9fe:101).
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return forbiddenAddress(mapped[1]!);
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hex) {
      const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
      return forbiddenAddress([high >> 8, high & 255, low >> 8, low & 255].join('.'));
    }
    if (/^fe[89ab]/.test(lower)) return 'a link-local address';
    if (lower === 'fd00:ec2::254') return 'a cloud metadata address';
    if (lower === '::') return 'an unspecified address';
  }
  return undefined;
}

export async function postWebhook(request: WebhookRequest): Promise<WebhookResponse> {
  const policy = request.policy ?? DEFAULT_WEBHOOK_POLICY;
  let url = new URL(request.url);
  for (let redirects = 0; ; redirects++) {
    checkDestination(url, policy, request.shownAs);
    const response = await send(url, request, policy);
    if (response.status < 300 || response.status > 399 || !response.location) return response;
    const next = new URL(response.location, url);
    if (next.origin !== url.origin) {
      throw new RefitError(
        ErrorTypes.InvalidDefinition,
        `the webhook at ${request.shownAs} answered ${response.status}, redirecting to another origin (${next.origin}); Refit does not follow it with the webhook's headers: point the URL at the final address`,
      );
    }
    if (request.method !== 'GET' && ![307, 308].includes(response.status)) {
      throw new RefitError(
        ErrorTypes.InvalidDefinition,
        `the webhook at ${request.shownAs} answered ${response.status}, which would turn the ${request.method} into a GET without its body, so the notification was not delivered: point the URL at the final address`,
      );
    }
    if (redirects >= MAX_REDIRECTS)
      throw new RefitError(ErrorTypes.InvalidDefinition, `the webhook at ${request.shownAs} redirected more than ${MAX_REDIRECTS} times`);
    url = next;
  }
}

function checkDestination(url: URL, policy: WebhookPolicy, shownAs: string): void {
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new RefitError(ErrorTypes.InvalidDefinition, `the webhook at ${shownAs} is not an http(s) URL`);
  if (policy.allowLinkLocal) return;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const why = METADATA_NAMES.has(host) ? 'a cloud metadata service' : forbiddenAddress(host);
  if (why) throw refused(shownAs, why);
}

function refused(shownAs: string, why: string): RefitError {
  return new RefitError(
    ErrorTypes.InvalidDefinition,
    `the webhook at ${shownAs} would reach ${why}, which webhooks may not (the worker's operator can allow it with REFIT_WEBHOOK_ALLOW_LINK_LOCAL=true)`,
  );
}

function send(url: URL, request: WebhookRequest, policy: WebhookPolicy): Promise<WebhookResponse & { location?: string }> {
  // Every address a name resolves to is checked as the connection is made, so a name cannot resolve to a
  // metadata address between a check and the request.
  const lookup: net.LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = policy.allowLinkLocal ? undefined : list.map((entry) => forbiddenAddress(entry.address)).find(Boolean);
      if (bad) return callback(refused(request.shownAs, bad) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const outgoing = transport.request(url, { method: request.method, headers: request.headers, lookup, timeout: request.timeoutMs }, (response) => {
      // The body is not needed; reading it lets the connection close cleanly.
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', location: response.headers.location }));
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    outgoing.on('error', (err) =>
      reject(err instanceof RefitError ? err : (err as Error & { cause?: unknown }).cause instanceof RefitError ? (err as { cause: RefitError }).cause : err),
    );
    if (request.body !== undefined) outgoing.write(request.body);
    outgoing.end();
  });
}
