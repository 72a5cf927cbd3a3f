// The local router process of a model: started detached, found again by its pid, told to reload.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../platform/freePort.js';
import { STATE_FILE, writeState, type ModelServingState } from './servingState.js';

const routerScript = fileURLToPath(new URL('./router.js', import.meta.url));

/** Starts the model's router (on its previous port when it can), or tells a running one to reload. */
export async function ensureRouter(folder: string, state: ModelServingState): Promise<void> {
  if (state.router && isRouter(state.router.pid)) {
    process.kill(state.router.pid, 'SIGHUP');
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
