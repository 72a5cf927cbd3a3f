import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalMetricSource } from '../../activities/metrics/metricSource.js';
import { packageRoot } from '../../platform/paths.js';
import { logMetric, logMetrics } from '../../sdk/ts/index.js';

const run = promisify(execFile);
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const sdkModule = fileURLToPath(new URL('../../sdk/ts/index.js', import.meta.url));

let dir: string;
let metricsFile: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'refit-sdk-'));
  metricsFile = path.join(dir, 'metrics.jsonl');
  process.env.REFIT_METRICS_FILE = metricsFile;
});
afterEach(() => {
  delete process.env.REFIT_METRICS_FILE;
  rmSync(dir, { recursive: true, force: true });
});

const readLines = (file = metricsFile) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const withoutTimestamps = (text: string) => text.replace(/"timestamp": "[^"]*"/g, '"timestamp": "T"');

/** The environment a model's process would have, without the metrics file unless given. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const { REFIT_METRICS_FILE: _notInherited, ...inherited } = process.env;
  return { ...(inherited as Record<string, string>), PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

describe("the TypeScript SDK's logMetric and logMetrics", () => {
  it('appends one JSON line per metric: name, value, step, timestamp', () => {
    logMetric('f1_score', 0.93);
    const [record] = readLines();
    expect(Object.keys(record!)).toEqual(['name', 'value', 'step', 'timestamp']);
    expect(record).toMatchObject({ name: 'f1_score', value: 0.93, step: null });
    expect(record!.timestamp).toMatch(ISO_UTC);
  });

  it('writes logMetrics one line per metric, in order, with the step; from an object or a Map', () => {
    logMetrics({ accuracy: 0.9, recall: 1, 'eval/loss:val-1': 0.25 }, 3);
    logMetrics(new Map([['precision', 0.5]]));
    expect(readLines().map((r) => [r.name, r.value, r.step])).toEqual([
      ['accuracy', 0.9, 3],
      ['recall', 1, 3],
      ['eval/loss:val-1', 0.25, 3],
      ['precision', 0.5, null],
    ]);
  });

  it('appends to what is already in the file', () => {
    writeFileSync(metricsFile, '{"name": "earlier", "value": 1, "step": null, "timestamp": "x"}\n');
    logMetric('later', 2.5, 0);
    expect(readLines().map((r) => r.name)).toEqual(['earlier', 'later']);
  });

  it.each(['', '1st', 'has space', 'x'.repeat(129), 'f1\n', '-dash', ' leading-space', 5, null])('rejects the name %p, saying the rule', (name) => {
    expect(() => logMetric(name as string, 0.5)).toThrow(/^invalid metric name .*: use 1 to 128 characters, starting with a letter or '_'/);
    expect(existsSync(metricsFile)).toBe(false);
  });

  it('accepts the longest allowed name and letters beyond ASCII, as the Python SDK does', () => {
    logMetric('x'.repeat(128), 1);
    logMetric('précision_top5', 0.5);
    expect(readLines().map((r) => r.name)).toEqual(['x'.repeat(128), 'précision_top5']);
  });

  it.each([true, false, '0.9', null, undefined, [0.9], 1n])('rejects the value %p as not a number', (value) => {
    expect(() => logMetric('f1_score', value as unknown as number)).toThrow(/^metric 'f1_score' has value .* of type \w+: log a finite int or float$/);
    expect(existsSync(metricsFile)).toBe(false);
  });

  it.each([NaN, Infinity, -Infinity])('rejects %p as not finite', (value) => {
    expect(() => logMetric('f1_score', value)).toThrow(`metric 'f1_score' is ${value}: log a finite number (not NaN or infinity)`);
    expect(existsSync(metricsFile)).toBe(false);
  });

  it.each([-1, 1.5, '3', true, NaN])('rejects the step %p', (step) => {
    expect(() => logMetric('f1_score', 0.5, step as number)).toThrow(/^step .* is not valid: pass a non-negative int, or leave it out$/);
  });

  it('writes nothing from logMetrics when one metric is invalid, naming it', () => {
    expect(() => logMetrics({ accuracy: 0.9, recall: 'high' as unknown as number })).toThrow("metric 'recall' has value 'high' of type string");
    expect(existsSync(metricsFile)).toBe(false);
  });

  it('needs an object for logMetrics', () => {
    expect(() => logMetrics([['accuracy', 0.9]] as unknown as Record<string, number>)).toThrow(
      'logMetrics() takes an object of metric name to value, got array: use logMetric(name, value) for a single metric',
    );
  });

  it('without REFIT_METRICS_FILE warns once on stderr and goes on, still rejecting invalid metrics', async () => {
    const script = [
      `const { logMetric, logMetrics } = await import(${JSON.stringify(sdkModule)});`,
      "logMetric('f1_score', 0.9);",
      'logMetrics({ recall: 0.8 });',
      "try { logMetric('bad name', 1); } catch (err) { console.log('rejected: ' + err.message.split(':')[0]); }",
      "console.log('training went on');",
    ].join('\n');
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env: childEnv(), cwd: dir });
    expect(stdout).toBe("rejected: invalid metric name 'bad name'\ntraining went on\n");
    expect(stderr.trimEnd().split('\n')).toEqual(['metrics are not recorded: REFIT_METRICS_FILE is not set (Refit sets it during a build)']);
  });
});

describe('lines from the TypeScript and Python SDKs', () => {
  const metrics = { f1_score: 0.91, epochs: 12, 'eval/loss:val-1': 0.125, précision: 0.875 };

  it('are the same text and read the same by LocalMetricSource', async () => {
    const pythonFile = path.join(dir, 'python-metrics.jsonl');
    await run(
      'python3',
      [
        '-c',
        ['import sys, json, refit_sdk', `refit_sdk.log_metrics(json.loads(sys.argv[1]), step=2)`, 'refit_sdk.log_metric("f1_score", 0.93)'].join('\n'),
        JSON.stringify(metrics),
      ],
      { env: childEnv({ PYTHONPATH: path.join(packageRoot(), 'sdk', 'python'), REFIT_METRICS_FILE: pythonFile }) },
    );
    logMetrics(metrics, 2);
    logMetric('f1_score', 0.93);

    const fromTs = readFileSync(metricsFile, 'utf8');
    expect(withoutTimestamps(fromTs)).toBe(withoutTimestamps(readFileSync(pythonFile, 'utf8')));
    // Python's json.dumps escapes non-ASCII; so does the TypeScript SDK.
    expect(fromTs).toContain('"name": "pr\\u00e9cision"');
    const source = new LocalMetricSource();
    const read = await source.read({ metricsFile });
    expect(read).toEqual({ ...metrics, f1_score: 0.93 });
    expect(await source.read({ metricsFile: pythonFile })).toEqual(read);
  });

  it('mix in one file, the latest line winning whichever SDK wrote it', async () => {
    logMetric('f1_score', 0.5);
    await run('python3', ['-c', 'import refit_sdk; refit_sdk.log_metric("f1_score", 0.7); refit_sdk.log_metric("recall", 0.6)'], {
      env: childEnv({ PYTHONPATH: path.join(packageRoot(), 'sdk', 'python'), REFIT_METRICS_FILE: metricsFile }),
    });
    logMetric('recall', 0.65);
    expect(await new LocalMetricSource().read({ metricsFile })).toEqual({ f1_score: 0.7, recall: 0.65 });
  });
});
