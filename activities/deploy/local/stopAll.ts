// Clean-up for tests and the demo: every local serving process under a deployments folder stops.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runningProcesses } from '../../../platform/processes.js';
import { stopPod } from './pods.js';
import { isRouter } from './routerProcess.js';
import { readState, STATE_FILE } from './servingState.js';

/**
 * Stops every model server and router under a deployments folder (tests and the demo clean up with it):
 * those the state files name, and any other serving process whose artifact lies in the folder (one a
 * crash left out of the state), so that nothing outlives its owner.
 */
export async function stopAllLocalServing(deploymentsRoot: string): Promise<void> {
  if (!existsSync(deploymentsRoot)) return;
  for (const environment of readdirSync(deploymentsRoot)) {
    for (const modelId of readdirSync(path.join(deploymentsRoot, environment))) {
      const folder = path.join(deploymentsRoot, environment, modelId);
      if (!existsSync(path.join(folder, STATE_FILE))) continue;
      const state = readState(folder, modelId, environment);
      const pods = [
        ...Object.values(state.variations).flatMap((variation) => [...variation.pods, ...(variation.canary?.pods ?? [])]),
        ...(state.pending ?? []),
      ];
      await Promise.all(pods.map((pod) => stopPod(pod, 3000)));
      if (state.router && isRouter(state.router.pid)) process.kill(state.router.pid, 'SIGTERM');
      rmSync(path.join(folder, STATE_FILE), { force: true });
    }
  }
  const strays = servingProcessesUnder(deploymentsRoot);
  await Promise.all(strays.map((pid) => stopPod({ pid, port: 0 }, 3000)));
}

function servingProcessesUnder(folder: string): number[] {
  const marker = `--artifact-dir ${path.resolve(folder)}/`;
  return runningProcesses()
    .filter(({ command }) => command.includes(marker))
    .map(({ pid }) => pid);
}
