// The slots a worker runs steps in (unit tests of plain functions; the settings reaching a real worker's
// SDK are checked in workerService.test.ts, and what they bound in bench figure 3).
import { describe, expect, it } from '@jest/globals';
import { Slots } from '../../activities/process/slots.js';
import { workerSlotSettings } from '../../worker/workerSlots.js';

describe('worker slots', () => {
  it('runs at most `size` at once, the rest in the order they came, each told how many wait ahead', async () => {
    const slots = new Slots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const waits: number[] = [];
    const step = (index: number) =>
      slots.run(
        async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 20));
          order.push(index);
          running--;
          return index;
        },
        { onWait: (ahead) => waits.push(ahead) },
      );
    expect(await Promise.all([0, 1, 2, 3, 4].map(step))).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(order.slice(2)).toEqual([2, 3, 4]);
    expect(waits).toEqual([0, 1, 2]);
    expect(slots.queued).toBe(0);
  });

  it('gives up the wait of a cancelled step, and a failed step frees its slot', async () => {
    const slots = new Slots(1);
    let release!: () => void;
    const first = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    const cancel = new AbortController();
    const cancelled = slots.run(async () => 'ran', { signal: cancel.signal });
    const third = slots.run(async () => 'third');
    expect(slots.queued).toBe(2);
    cancel.abort(new Error('the run was cancelled'));
    await expect(cancelled).rejects.toThrow('the run was cancelled');
    expect(slots.queued).toBe(1);
    release();
    await first;
    expect(await third).toBe('third');
    await expect(slots.run(async () => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    expect(await slots.run(async () => 'after')).toBe('after');
    expect(() => new Slots(0)).toThrow(/at least 1/);
  });

  it('defaults to a build per core, two clones per core and host steps for both and more; settings are checked by name', () => {
    expect(workerSlotSettings({}, 2)).toEqual({ builds: 2, clones: 4, hostSteps: 10, cachedRuns: 150 });
    expect(workerSlotSettings({}, 16)).toEqual({ builds: 16, clones: 32, hostSteps: 80, cachedRuns: 1200 });
    expect(workerSlotSettings({ REFIT_WORKER_BUILD_SLOTS: '1', REFIT_WORKER_STEP_SLOTS: '3', REFIT_WORKER_WORKFLOW_SLOTS: '20' }, 2)).toEqual({
      builds: 1,
      clones: 4,
      hostSteps: 3,
      workflowTasks: 20,
      cachedRuns: 45,
    });
    expect(() => workerSlotSettings({ REFIT_WORKER_CLONE_SLOTS: 'many' }, 2)).toThrow(
      'REFIT_WORKER_CLONE_SLOTS must be a whole number from 1 to 10000, not "many"',
    );
    expect(() => workerSlotSettings({ REFIT_WORKER_BUILD_SLOTS: '0' }, 2)).toThrow(/^REFIT_WORKER_BUILD_SLOTS must be/);
  });

  it('keeps 15 runs in memory per step slot unless told, never fewer than it runs workflow tasks at once', () => {
    expect(workerSlotSettings({ REFIT_WORKER_STEP_SLOTS: '1' }, 2)).toMatchObject({ hostSteps: 1, cachedRuns: 40 });
    expect(workerSlotSettings({ REFIT_WORKER_CACHED_RUNS: '100' }, 2)).toEqual({ builds: 2, clones: 4, hostSteps: 10, cachedRuns: 100 });
    expect(workerSlotSettings({ REFIT_WORKER_CACHED_RUNS: '10', REFIT_WORKER_WORKFLOW_SLOTS: '10' }, 2)).toMatchObject({ cachedRuns: 10, workflowTasks: 10 });
    expect(() => workerSlotSettings({ REFIT_WORKER_CACHED_RUNS: '30' }, 2)).toThrow(
      'REFIT_WORKER_CACHED_RUNS (30) must be at least the workflow task slots (40, the default): lower REFIT_WORKER_WORKFLOW_SLOTS too',
    );
    expect(() => workerSlotSettings({ REFIT_WORKER_CACHED_RUNS: '1' }, 2)).toThrow('REFIT_WORKER_CACHED_RUNS must be a whole number from 2 to 100000, not "1"');
  });
});
