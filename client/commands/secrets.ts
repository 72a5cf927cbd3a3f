import { describeScope, isUnscoped, parseHostEntry, type SecretScope } from '../../activities/secrets/secretScope.js';
import { refitHome } from '../../platform/paths.js';
import { Identifier } from '../../spec/schema/common.js';
import { secretStoreFromEnvironment } from '../../activities/secrets/storeFromEnvironment.js';
import { EXIT } from '../output.js';

/** The store the worker on this machine would read: local files, or Kubernetes Secrets (REFIT_SECRET_STORE). */
const store = () => secretStoreFromEnvironment(refitHome());

export interface ScopeOptions {
  host?: string[];
  automation?: string[];
}

/** The scope the flags give, or a message naming the flag that is wrong. */
function scopeFrom(options: ScopeOptions): SecretScope | { error: string } {
  const hosts: string[] = [];
  for (const host of options.host ?? []) {
    const parsed = parseHostEntry(host);
    if ('error' in parsed) return { error: `--host ${parsed.error}` };
    hosts.push(host.trim().toLowerCase());
  }
  for (const automation of options.automation ?? []) {
    const parsed = Identifier.safeParse(automation);
    if (!parsed.success) return { error: `--automation ${parsed.error.issues[0]?.message ?? 'is not an automation or model id'}` };
  }
  return { hosts, automations: options.automation ?? [] };
}

const given = (options: ScopeOptions) => Boolean(options.host?.length || options.automation?.length);

/** The value comes from stdin, never argv (argv shows in `ps` and shell history); hidden on a terminal. */
export async function secretsSetCommand(name: string, options: ScopeOptions = {}): Promise<number> {
  const scope = scopeFrom(options);
  if ('error' in scope) {
    console.error(`refit: ${scope.error}`);
    return EXIT.usage;
  }
  const value = process.stdin.isTTY ? await readHidden(`value of ${name} (input hidden): `) : await readAll();
  const trimmed = value.replace(/\r?\n$/, '');
  if (!trimmed) {
    console.error(`refit: the value of ${name} is empty; nothing was stored`);
    return EXIT.usage;
  }
  const secrets = await store();
  await secrets.set(name, trimmed, given(options) ? scope : undefined);
  console.log(`stored secret ${name} in ${secrets.description}: ${describeScope(await secrets.scopeOf(name))}`);
  if (isUnscoped(await secrets.scopeOf(name))) console.log(hint(name));
  return EXIT.ok;
}

/** Changes who may use a secret and where it may go, without touching its value. */
export async function secretsScopeCommand(name: string, options: ScopeOptions & { clear?: boolean }): Promise<number> {
  if (!given(options) && !options.clear) {
    console.error('refit: say the new scope with --host and --automation (or --clear to remove it)');
    return EXIT.usage;
  }
  const scope = scopeFrom(options);
  if ('error' in scope) {
    console.error(`refit: ${scope.error}`);
    return EXIT.usage;
  }
  const secrets = await store();
  await secrets.setScope(name, scope);
  console.log(`secret ${name}: ${describeScope(scope)}`);
  return EXIT.ok;
}

export async function secretsListCommand(options: { json?: boolean }): Promise<number> {
  const secrets = await store();
  const names = await secrets.list();
  const entries = await Promise.all(names.map(async (name) => ({ name, ...(await secrets.scopeOf(name)) })));
  if (options.json) {
    console.log(JSON.stringify(entries));
    return EXIT.ok;
  }
  if (!entries.length) {
    console.log(`no secrets in ${secrets.description}`);
    return EXIT.ok;
  }
  const width = Math.max(...entries.map((entry) => entry.name.length));
  for (const entry of entries) console.log(`${entry.name.padEnd(width)}  ${describeScope(entry)}`);
  const unscoped = entries.filter((entry) => isUnscoped(entry)).map((entry) => entry.name);
  if (unscoped.length) console.log(`\n${unscoped.length} without a scope yet (${unscoped.join(', ')}): ${hint(unscoped[0]!)}`);
  return EXIT.ok;
}

function hint(name: string): string {
  return `a secret without a scope goes only to this machine (loopback) and to no build; give it one with \`refit secrets scope ${name} --host <host[:port]> --automation <automation>\``;
}

export async function secretsDeleteCommand(name: string): Promise<number> {
  const secrets = await store();
  if (await secrets.delete(name)) {
    console.log(`deleted secret ${name}`);
    return EXIT.ok;
  }
  console.error(`refit: there is no secret ${name} in ${secrets.description}`);
  return EXIT.failed;
}

function readAll(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (data += chunk));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write(prompt);
    let value = '';
    process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8');
    const onData = (key: string) => {
      if (key === '\r' || key === '\n' || key === '\u0004') {
        process.stdin.setRawMode(false);
        process.stdin.off('data', onData);
        process.stdin.pause();
        process.stderr.write('\n');
        resolve(value);
      } else if (key === '\u0003') {
        process.stderr.write('\n');
        process.exit(130);
      } else if (key === '\u007f') {
        value = value.slice(0, -1);
      } else {
        value += key;
      }
    };
    process.stdin.on('data', onData);
    process.stdin.resume();
  });
}
