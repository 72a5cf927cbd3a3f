// What `refit dev` leaves behind on purpose: local model servers are detached from the worker, so they keep
// serving after the stack stops. On exit it says which, where, and how to stop them.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LocalDeploymentTarget } from '../activities/deploy/local/localTarget.js';

/** One line per model with a live server under `deploymentsRoot`. */
export async function stillServing(deploymentsRoot: string, sdkPythonPath: string): Promise<string[]> {
  if (!existsSync(deploymentsRoot)) return [];
  const target = new LocalDeploymentTarget({ deploymentsRoot, sdkPythonPath, secrets: null as never });
  const lines: string[] = [];
  for (const folder of readdirSync(deploymentsRoot, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
    const environment = folder.name === 'default' ? '' : folder.name;
    for (const model of readdirSync(path.join(deploymentsRoot, folder.name), { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
      const status = await target.status(model.name, environment).catch(() => undefined);
      const live = Object.entries(status?.variations ?? {}).filter(([, variation]) => variation.pods.some((pod) => pod.alive));
      if (!live.length) continue;
      const variations = live.map(([name, variation]) => `${name} (build ${variation.buildId})`).join(', ');
      lines.push(`${model.name}${environment ? ` in ${environment}` : ''} at ${status!.url}: variation ${variations}`);
    }
  }
  return lines;
}
