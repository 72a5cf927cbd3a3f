// The local router process of a model: started detached, found again by its pid, told to reload.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../platform/freePort.js';
import { ROUTES_PATH } from './routing.js';
import { STATE_FILE, stateDigest, writeState, type ModelServingState } from './servingState.js';

const routerScript = fileURLToPath(new URL('./router.js', import.meta.url));
/** How long a running router may take to load a new state file before the switch counts as failed. */
const RELOAD_TIMEOUT_MS = 10_000;

/**
 * Starts the model's router (on its previous port when it can), or tells a running one to reload and waits
 * until it routes by the state file as it is now: a switch is reported done only once requests see it.
 */
export async function ensureRouter(folder: string, state: ModelServingState): Promise<void> {
  if (state.router && isRouter(state.router.pid)) {
    await reloadRouter(folder, state.router);
    return;
  }
  const port = state.router && (await portIsFree(state.router.port)) ? state.router.port : await freePort();
  const log = openSync(path.join(folder, 'logs', 'router.log'), 'a');
  const child = spawn(process.execPath, [routerScript, path.join(folder, STATE_FILE), String(port)], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  state.router = { pid: child.pid!, port };
  writeState(folder, state);
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (Date.now() > deadline || !isRouter(child.pid!))
      throw new Error(`the router of ${state.modelId} did not start; see ${path.join(folder, 'logs', 'router.log')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Signals the router to reload, then asks it which state it routes by until that is the file on disk. */
export async function reloadRouter(folder: string, router: { pid: number; port: number }): Promise<void> {
  const file = path.join(folder, STATE_FILE);
  const wanted = stateDigest(readFileSync(file, 'utf8'));
  process.kill(router.pid, 'SIGHUP');
  const deadline = Date.now() + RELOAD_TIMEOUT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    if ((await routedDigest(router.port)) === wanted) return;
    if (!isRouter(router.pid)) throw new Error(`the router of ${file} stopped while reloading; see ${path.join(folder, 'logs', 'router.log')}`);
    if (Date.now() > deadline)
      throw new Error(`the router did not load the new routes of ${file} within ${RELOAD_TIMEOUT_MS / 1000} s; see ${path.join(folder, 'logs', 'router.log')}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

export function routerUrl(state: ModelServingState): string | undefined {
  return state.router ? `http://127.0.0.1:${state.router.port}` : undefined;
}

export function isRouter(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(routerScript);
  } catch {
    return false;
  }
}

/** The digest of the state the router at `port` routes by, or undefined while it does not answer. */
async function routedDigest(port: number): Promise<string | undefined> {
  try {
    const answer = await fetch(`http://127.0.0.1:${port}${ROUTES_PATH}`, { signal: AbortSignal.timeout(2_000) });
    return ((await answer.json()) as { digest?: string }).digest;
  } catch {
    return undefined;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return !(await listening(port));
}
