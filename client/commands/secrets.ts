import { refitHome } from '../../platform/paths.js';
import { secretStoreFromEnvironment } from '../../worker/dependencies.js';
import { EXIT } from '../output.js';

/** The store the worker on this machine would read: local files, or Kubernetes Secrets (REFIT_SECRET_STORE). */
const store = () => secretStoreFromEnvironment(refitHome());

/** The value comes from stdin, never argv (argv shows in `ps` and shell history); hidden on a terminal. */
export async function secretsSetCommand(name: string): Promise<number> {
  const value = process.stdin.isTTY ? await readHidden(`value of ${name} (input hidden): `) : await readAll();
  const trimmed = value.replace(/\r?\n$/, '');
  if (!trimmed) {
    console.error(`refit: the value of ${name} is empty; nothing was stored`);
    return EXIT.usage;
  }
  await store().set(name, trimmed);
  console.log(`stored secret ${name} in ${store().description}`);
  return EXIT.ok;
}

export async function secretsListCommand(options: { json?: boolean }): Promise<number> {
  const names = await store().list();
  if (options.json) console.log(JSON.stringify(names));
  else console.log(names.length ? names.join('\n') : `no secrets in ${store().description}`);
  return EXIT.ok;
}

export async function secretsDeleteCommand(name: string): Promise<number> {
  if (await store().delete(name)) {
    console.log(`deleted secret ${name}`);
    return EXIT.ok;
  }
  console.error(`refit: there is no secret ${name} in ${store().description}`);
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
