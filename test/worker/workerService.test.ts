// `refit worker` as a service: the SDK's metrics in Prometheus' format and the health endpoints a Kubernetes
// probe reads, on a real worker process connected to the test run's Temporal server, and a clean exit on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../../platform/freePort.js';
import { packageRoot } from '../../platform/paths.js';
import { parseListenAddress } from '../../worker/serviceEndpoints.js';
import { readRunState } from '../harness/runState.js';

describe('the worker as a service', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-worker-service-'));
  let worker: ChildProcess | undefined;
  afterAll(() => {
    worker?.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  const status = (url: string) =>
    fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      async (response) => ({ code: response.status, text: await response.text() }),
      () => ({ code: 0, text: '' }),
    );

  it('serves the SDK metrics and /livez, /readyz while it polls, and exits 0 on SIGTERM', async () => {
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    let output = '';
    worker = spawn(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'worker'], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: readRunState().address,
        REFIT_TASK_QUEUE: `worker-service-${process.pid}`,
        REFIT_WORKER_ID: `worker-service-${process.pid}`,
        REFIT_HOME: home,
        REFIT_WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
        REFIT_WORKER_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
        REFIT_WORKER_BUILD_SLOTS: '3',
        REFIT_WORKER_STEP_SLOTS: '7',
        REFIT_WORKER_CACHED_RUNS: '60',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker!.on('exit', (code) => resolve(code)));

    const health = `http://127.0.0.1:${healthPort}`;
    for (let waited = 0; (await status(`${health}/readyz`)).code !== 200; waited += 250) {
      if (waited > 60_000 || worker.exitCode !== null) throw new Error(`the worker did not become ready within 60 s:\n${output}`);
      await sleep(250);
    }
    expect(await status(`${health}/livez`)).toEqual({ code: 200, text: 'running\n' });
    expect((await status(`${health}/other`)).code).toBe(404);
    expect(output).toContain(`SDK metrics on http://127.0.0.1:${metricsPort}/metrics`);

    // The SDK's own series, e.g. its pollers and task slots, for both of the worker's queues.
    let metrics = '';
    for (let waited = 0; !/^temporal_\w+\{.*task_queue="worker-service-/m.test(metrics); waited += 500) {
      if (waited > 30_000) throw new Error(`no temporal_* series with the worker's task queue within 30 s:\n${metrics.slice(0, 2000)}`);
      await sleep(500);
      metrics = (await status(`http://127.0.0.1:${metricsPort}/metrics`)).text;
    }
    expect(metrics).toMatch(/^# TYPE temporal_\w+ /m);
    // The slot settings reach the SDK: the host queue takes 7 steps at once.
    expect(output).toMatch(/at once: 3 builds, \d+ clones, 7 steps of its own queue/);
    expect(output).toContain('; 60 runs kept in memory');
    const hostSlots = (text: string) =>
      /^temporal_worker_task_slots_available\{[^}]*task_queue="[^"@]*@worker-service-[^"]*"[^}]*worker_type="ActivityWorker"[^}]*\} (\d+)/m.exec(text)?.[1] ??
      /^temporal_worker_task_slots_available\{[^}]*worker_type="ActivityWorker"[^}]*task_queue="[^"@]*@worker-service-[^"]*"[^}]*\} (\d+)/m.exec(text)?.[1];
    for (let waited = 0; hostSlots(metrics) === undefined && waited < 30_000; waited += 500) {
      await sleep(500);
      metrics = (await status(`http://127.0.0.1:${metricsPort}/metrics`)).text;
    }
    expect(hostSlots(metrics)).toBe('7');

    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await status(`${health}/livez`)).code).toBe(0); // closed with the worker
  }, 120_000);

  it('names the setting when an address is not one', () => {
    expect(parseListenAddress('X', '9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListenAddress('X', ':9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListenAddress('X', '[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseListenAddress('REFIT_WORKER_HEALTH_ADDRESS', 'localhost:http')).toThrow(
      /^REFIT_WORKER_HEALTH_ADDRESS="localhost:http" is not an address to listen on: give host:port/,
    );
    expect(() => parseListenAddress('X', '1:70000')).toThrow(/is not an address/);
  });
});
