import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalMetricSource, waitForMetric, type MetricSource } from '../../activities/metrics/metricSource.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';

let dir: string;
let metricsFile: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'refit-metrics-'));
  metricsFile = path.join(dir, 'metrics.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (name: unknown, value: unknown) => `${JSON.stringify({ name, value, step: null, timestamp: '2026-01-01T00:00:00.000Z' })}\n`;

describe('LocalMetricSource', () => {
  it('reads {} when the build wrote no metrics file', async () => {
    expect(await new LocalMetricSource().read({ metricsFile })).toEqual({});
  });

  it('keeps the latest value of each metric', async () => {
    writeFileSync(metricsFile, line('f1_score', 0.5) + line('recall', 0.8) + line('f1_score', 0.91));
    expect(await new LocalMetricSource().read({ metricsFile })).toEqual({ f1_score: 0.91, recall: 0.8 });
  });

  it('skips blank lines, records that are not metrics, and a last line cut short by a crash', async () => {
    writeFileSync(
      metricsFile,
      [
        line('f1_score', 0.9),
        '\n',
        line('as_text', '0.9'),
        line(7, 0.9),
        '{"name": "no_value"}\n',
        '[1, 2]\n',
        line('recall', 0.7),
        '{"name": "precision", "val',
      ].join(''),
    );
    expect(await new LocalMetricSource().read({ metricsFile })).toEqual({ f1_score: 0.9, recall: 0.7 });
  });

  it('does not offer prepareBuild: the build needs nothing from it but REFIT_METRICS_FILE', () => {
    const source: MetricSource = new LocalMetricSource();
    expect(source.prepareBuild).toBeUndefined();
  });
});

describe('waitForMetric', () => {
  it('returns as soon as the metric is there', async () => {
    writeFileSync(metricsFile, line('f1_score', 0.9));
    const metrics = await waitForMetric({
      source: new LocalMetricSource(),
      build: { buildId: 'b1', metricsFile },
      name: 'f1_score',
      timeoutMs: 1_000,
      pollMs: 10,
    });
    expect(metrics).toEqual({ f1_score: 0.9 });
  });

  it('fails at the deadline naming what the build did log', async () => {
    writeFileSync(metricsFile, line('recall', 0.9));
    const waiting = waitForMetric({ source: new LocalMetricSource(), build: { buildId: 'b1', metricsFile }, name: 'f1_score', timeoutMs: 50, pollMs: 10 });
    await expect(waiting).rejects.toBeInstanceOf(RefitError);
    await expect(waiting).rejects.toMatchObject({ type: ErrorTypes.MetricNotFound, message: expect.stringContaining('it logged: recall') });
  });
});
