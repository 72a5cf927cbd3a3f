import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalMetricSource, metricsWhenBuilt, waitForMetric, type MetricSource } from '../../activities/metrics/metricSource.js';
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

  it('fails at the deadline naming what the build did log, for a source a metric may reach late', async () => {
    writeFileSync(metricsFile, line('recall', 0.9));
    // A test double of a remote source (MLflow's metrics can arrive after the build's process ends): the file, read
    // as if it were not final.
    const local = new LocalMetricSource();
    let reads = 0;
    const late: MetricSource = { description: 'a remote store', howToLog: (name) => name, read: (build) => (reads++, local.read(build)) };
    const waiting = waitForMetric({ source: late, build: { buildId: 'b1', metricsFile }, name: 'f1_score', timeoutMs: 50, pollMs: 10 });
    await expect(waiting).rejects.toBeInstanceOf(RefitError);
    await expect(waiting).rejects.toMatchObject({ type: ErrorTypes.MetricNotFound, message: expect.stringMatching(/in 0 s; it logged: recall/) });
    expect(reads).toBeGreaterThan(1);
  });

  it("reads the build's own metrics file once: a metric missing from it when the build has ended is reported at once", async () => {
    writeFileSync(metricsFile, line('recall', 0.9));
    const source = new LocalMetricSource();
    let reads = 0;
    const counted: MetricSource = {
      ...source,
      howToLog: source.howToLog,
      read: (build) => (reads++, source.read(build)),
    };
    const waiting = waitForMetric({ source: counted, build: { buildId: 'b1', metricsFile }, name: 'f1_score', timeoutMs: 60_000, pollMs: 10 });
    await expect(waiting).rejects.toMatchObject({
      type: ErrorTypes.MetricNotFound,
      message: expect.stringMatching(
        /logged no metric "f1_score" \(the deployment condition's metric_name\); it logged: recall\. Log it with refit_sdk\.log_metric/,
      ),
    });
    expect(reads).toBe(1);
  });
});

describe('metricsWhenBuilt (what a build returns so that its run needs no metrics step)', () => {
  const build = () => ({ buildId: 'b1', metricsFile });

  it("returns the metrics when they hold the condition's metric, and whatever there is when none is named", async () => {
    writeFileSync(metricsFile, line('f1_score', 0.9) + line('recall', 0.8));
    expect(await metricsWhenBuilt(new LocalMetricSource(), build(), 'f1_score')).toEqual({ f1_score: 0.9, recall: 0.8 });
    expect(await metricsWhenBuilt(new LocalMetricSource(), build(), undefined)).toEqual({ f1_score: 0.9, recall: 0.8 });
  });

  it("returns nothing when the condition's metric is missing, so the run's metrics step waits for it or reports it", async () => {
    writeFileSync(metricsFile, line('recall', 0.8));
    expect(await metricsWhenBuilt(new LocalMetricSource(), build(), 'f1_score')).toBeUndefined();
  });

  it('returns nothing when the source cannot be read now, leaving the retries to the metrics step', async () => {
    // A test double of a remote source that is down.
    const down: MetricSource = {
      description: 'a remote store',
      howToLog: (name) => name,
      read: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5000')),
    };
    expect(await metricsWhenBuilt(down, build(), 'f1_score')).toBeUndefined();
  });
});
