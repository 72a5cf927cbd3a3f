// Where a secret may go and who may use it. The worker's operator scopes each secret when storing it
// (`refit secrets set NAME --host HOST[:PORT] --automation NAME`); definitions and model repositories,
// which anyone may write, can only use a secret within that scope. Every use is checked here, before any
// request is made with the value.
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { isLoopbackHost } from '../../spec/gitUri.js';

export interface SecretScope {
  /** Hosts the value may be sent to: "host" (any port), "host:port", or "*.domain" (its subdomains). */
  hosts: string[];
  /** Automations (by name) or models (by model id) that may use the value. */
  automations: string[];
}

export const NO_SCOPE: SecretScope = { hosts: [], automations: [] };

/** Who asks for a secret, and for what. */
export interface SecretUse {
  automation: string;
  modelId: string;
  /** The field that names the secret, for messages: "git_access_token_secret", "env_vars", "on_error.headers". */
  field: string;
  /**
   * Where the value will be sent: a URL. Absent for a value given to a build or a model server as a
   * variable, which the automation scope alone decides.
   */
  destination?: string;
  /** The value is itself the destination URL (a Slack webhook): it is checked against the hosts once read. */
  destinationIsValue?: boolean;
  /** The worker's operator allows plain http to the destination's host (REFIT_GIT_ALLOW_HTTP_HOSTS): the value may go there unencrypted. */
  plainHttpAllowed?: boolean;
}

const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80, 'ssh:': 22 };

/** Throws a RefitError saying how to scope the secret when `use` is outside `scope`; returns otherwise. */
export function checkSecretUse(name: string, scope: SecretScope, use: SecretUse, value?: string): void {
  const fail = (message: string) => new RefitError(ErrorTypes.SecretOutOfScope, message);
  const scopeCommand = (flag: string, add: string, existing: string[]) =>
    `refit secrets scope ${name} ${[...existing, add].map((item) => `${flag} ${item}`).join(' ')}`;
  if (scope.automations.length && !scope.automations.includes(use.automation) && !scope.automations.includes(use.modelId)) {
    throw fail(
      `secret "${name}" (${use.field}) may be used by ${scope.automations.join(', ')} only, not by automation "${use.automation}" (model ${use.modelId}); ` +
        `if it should, the operator runs: ${scopeCommand('--automation', use.automation, scope.automations)}`,
    );
  }
  const destination = use.destinationIsValue ? value : use.destination;
  if (destination === undefined) {
    if (!scope.automations.length) {
      throw fail(
        `secret "${name}" (${use.field}) has no automation scope, and a build or model server is given only the secrets scoped to it; ` +
          `the operator runs: ${scopeCommand('--automation', use.automation, [])}`,
      );
    }
    return;
  }
  let url: URL;
  try {
    url = new URL(destination);
  } catch {
    // Never shown: a value that is no URL may be anything, the secret itself included.
    throw fail(`secret "${name}" (${use.field}) is to be sent somewhere that is not a URL, so it is not sent`);
  }
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];
  const where = `${host}${port ? `:${port}` : ''}`;
  const loopback = isLoopbackHost(host);
  if (!loopback && url.protocol !== 'https:' && !(use.plainHttpAllowed && url.protocol === 'http:')) {
    throw fail(`secret "${name}" (${use.field}) would be sent to ${where} over ${url.protocol.replace(':', '')}; a secret leaves this machine only over https`);
  }
  if (!scope.hosts.length) {
    if (loopback) return;
    throw fail(
      `secret "${name}" (${use.field}) has no host scope, so it is sent only to this machine (loopback), not to ${where}; ` +
        `if it should go there, the operator runs: ${scopeCommand('--host', host, [])}`,
    );
  }
  if (!scope.hosts.some((entry) => hostMatches(entry, host, port))) {
    throw fail(
      `secret "${name}" (${use.field}) may be sent to ${scope.hosts.join(', ')} only, not to ${where}; ` +
        `if it should go there, the operator runs: ${scopeCommand('--host', host, scope.hosts)}`,
    );
  }
}

function hostMatches(entry: string, host: string, port: number | undefined): boolean {
  const parsed = parseHostEntry(entry);
  if ('error' in parsed) return false;
  if (parsed.port !== undefined && parsed.port !== port) return false;
  return parsed.host.startsWith('*.') ? host.endsWith(parsed.host.slice(1)) && host.length > parsed.host.length - 1 : host === parsed.host;
}

/** "example.com", "example.com:8443", "*.example.com", "[::1]:8080", "10.0.0.5". */
export function parseHostEntry(entry: string): { host: string; port?: number } | { error: string } {
  const text = entry.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  const plain = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1]!, bracketed[2]);
  if (plain) {
    const [hostPart, port] = text.split(/:(?=\d+$)/);
    return withPort(hostPart!, port);
  }
  return { error: `"${entry}" is not a host (host, host:port, *.domain or [IPv6]:port)` };
}

function withPort(host: string, port: string | undefined): { host: string; port?: number } | { error: string } {
  if (port === undefined) return { host };
  const number = Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) return { error: `port ${port} is not a port (1-65535)` };
  return { host, port: number };
}

/** A scope as one line for `refit secrets list`. */
export function describeScope(scope: SecretScope): string {
  const hosts = scope.hosts.length ? `hosts ${scope.hosts.join(', ')}` : 'loopback only';
  const automations = scope.automations.length ? `automations ${scope.automations.join(', ')}` : 'no build';
  return `${hosts}; ${automations}`;
}

export function isUnscoped(scope: SecretScope): boolean {
  return !scope.hosts.length && !scope.automations.length;
}
