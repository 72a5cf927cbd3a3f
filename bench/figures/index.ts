// The figures, in the order a bench run measures them. Throughput goes last: its largest trials take
// the longest and the least predictable time, so it gets the extra repetitions the budget has left.
import type { Budget } from '../lib/budget.js';
import type { FigureResult } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { clientAndIdle } from './clientAndIdle.js';
import { cloneFigure } from './clone.js';
import { cronBaseline } from './cronBaseline.js';
import { nodeBuildFigure } from './nodeBuild.js';
import { orchestrationOverhead } from './overhead.js';
import { registration } from './registration.js';
import { thresholdFigure } from './threshold.js';
import { throughput } from './throughput.js';
import { triggerLatency } from './triggerLatency.js';

export interface FigureOptions {
  /** Few repetitions and small sizes: for trying the bench out, not for results. */
  quick: boolean;
  budget: Budget;
}

type Figure = (stack: BenchStack, options: FigureOptions) => Promise<Omit<FigureResult, 'durationS'>>;

/** What the throughput figure's minimum trials take on this machine when it is not overloaded. */
const THROUGHPUT_MINIMUM_MS = 5 * 60_000;

export const FIGURES = {
  overhead: (stack, { quick }) => orchestrationOverhead(stack, { repetitions: quick ? 3 : 15, warmups: 1 }),
  trigger: (stack, { quick }) => triggerLatency(stack, { manualRuns: quick ? 3 : 10, scheduledRuns: quick ? 3 : 8, intervalSeconds: 5 }),
  clone: (stack, { quick }) =>
    cloneFigure(stack, {
      shape: quick
        ? { commits: 300, largeFiles: 2, largeFileMiB: 2, largeFileVersions: 2 }
        : { commits: 3000, largeFiles: 4, largeFileMiB: 8, largeFileVersions: 4 },
      repetitions: quick ? 2 : 5,
    }),
  threshold: (stack, { quick }) =>
    thresholdFigure(stack, {
      sizes: quick
        ? [
            { rows: 100_000, repetitions: 2 },
            { rows: 1_000_000, repetitions: 2 },
          ]
        : [
            { rows: 1_000_000, repetitions: 5 },
            { rows: 10_000_000, repetitions: 3 },
          ],
    }),
  registration: (stack, { quick, budget }) =>
    registration(stack, {
      automations: quick ? 100 : 1000,
      repetitions: quick ? { minimum: 2, wanted: 2 } : { minimum: 2, wanted: 3 },
      plainCreates: quick ? 50 : 200,
      budget,
      reserveMs: quick ? 0 : THROUGHPUT_MINIMUM_MS,
    }),
  'client-idle': (stack, { quick }) => clientAndIdle(stack, { repetitions: quick ? 3 : 10, idleSeconds: quick ? 20 : 60 }),
  'cron-baseline': (stack, { quick }) =>
    cronBaseline(stack, {
      variants: quick
        ? [
            { trainSeconds: 0, pairs: 2 },
            { trainSeconds: 10, pairs: 1 },
          ]
        : [
            { trainSeconds: 0, pairs: 6 },
            { trainSeconds: 10, pairs: 4 },
          ],
    }),
  // Needs root and a node; a machine without one records the figure's error and goes on.
  'node-build': (stack, { quick }) => nodeBuildFigure(stack, { builds: quick ? 2 : 4 }),
  throughput: (stack, { quick, budget }) =>
    throughput(stack, {
      sizes: quick
        ? [
            { n: 1, minimum: 2, wanted: 2 },
            { n: 10, minimum: 1, wanted: 1 },
            { n: 100, minimum: 1, wanted: 1 },
          ]
        : [
            { n: 1, minimum: 3, wanted: 5 },
            { n: 10, minimum: 2, wanted: 3 },
            // Past the worker's cache of runs (150) and every slot full: whether memory keeps growing with N.
            { n: 1000, minimum: 1, wanted: 2 },
          ],
      // The target's question (does runs/s fall from 100 to 500?) is answered by trials in alternating pairs.
      paired: quick ? undefined : { smaller: 100, larger: 500, pairs: 2, wantedPairs: 3 },
      deployingN: quick ? 10 : 100,
      budget,
    }),
} satisfies Record<string, Figure>;

export type FigureName = keyof typeof FIGURES;
