// Metric logging from TypeScript/JavaScript training code, the twin of the Python SDK's log_metric and
// log_metrics (sdk/python/refit_sdk/metrics.py): the same checks, the same messages, and the same JSON
// lines appended to the file named by REFIT_METRICS_FILE, which Refit reads after the build. Node built-ins
// only, so importing it adds no dependency to the model's code.
import { appendFileSync } from 'node:fs';

export const METRICS_FILE_ENV = 'REFIT_METRICS_FILE';

// The Python SDK's pattern: its \w is Unicode-aware, which \p{L}\p{N}_ spells out; with the u flag the
// length counts code points, as Python does.
const METRIC_NAME = /^[A-Za-z_][\p{L}\p{N}_.:/-]{0,127}$/u;

let warnedMissingFile = false;

/** Records one metric, e.g. `logMetric('f1_score', 0.93)`. */
export function logMetric(name: string, value: number, step?: number): void {
  append([metricLine(name, value, step)]);
}

/**
 * Records several metrics at once, e.g. `logMetrics({ f1_score: 0.93, recall: 0.9 })`. Every metric is
 * checked before any is written, so a bad one does not leave the others half logged.
 */
export function logMetrics(metrics: Record<string, number> | Map<string, number>, step?: number): void {
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new Error(`logMetrics() takes an object of metric name to value, got ${typeName(metrics)}: use logMetric(name, value) for a single metric`);
  }
  const entries = metrics instanceof Map ? [...metrics.entries()] : Object.entries(metrics);
  append(entries.map(([name, value]) => metricLine(name, value, step)));
}

/** One line as the Python SDK writes it: the same keys in the same order, its json.dumps spacing and escaping. */
function metricLine(name: unknown, value: unknown, step: unknown): string {
  const fields: [string, string][] = [
    ['name', pythonJsonString(checkedName(name))],
    ['value', String(checkedValue(name, value))],
    ['step', checkedStep(step)?.toString() ?? 'null'],
    ['timestamp', pythonJsonString(new Date().toISOString())],
  ];
  return `{${fields.map(([key, text]) => `"${key}": ${text}`).join(', ')}}\n`;
}

function checkedName(name: unknown): string {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new Error(
      `invalid metric name ${repr(name)}: use 1 to 128 characters, starting with a letter or '_', followed by letters, digits, '_', '.', ':', '/' or '-'`,
    );
  }
  return name;
}

function checkedValue(name: unknown, value: unknown): number {
  if (typeof value !== 'number') {
    throw new Error(`metric ${repr(name)} has value ${repr(value)} of type ${typeName(value)}: log a finite int or float`);
  }
  if (!Number.isFinite(value)) throw new Error(`metric ${repr(name)} is ${value}: log a finite number (not NaN or infinity)`);
  return value;
}

function checkedStep(step: unknown): number | undefined {
  if (step === undefined || step === null) return undefined;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new Error(`step ${repr(step)} is not valid: pass a non-negative int, or leave it out`);
  }
  return step;
}

function append(lines: string[]): void {
  const file = process.env[METRICS_FILE_ENV];
  if (!file) {
    warnMissingFileOnce();
    return;
  }
  // One synchronous append per call, opening the file each time: every metric is on disk as soon as the
  // call returns, so a build that crashes later keeps what it logged.
  appendFileSync(file, lines.join(''), 'utf8');
}

function warnMissingFileOnce(): void {
  if (warnedMissingFile) return;
  warnedMissingFile = true;
  process.stderr.write(`metrics are not recorded: ${METRICS_FILE_ENV} is not set (Refit sets it during a build)\n`);
}

/** Python's json.dumps escapes every non-ASCII character (ensure_ascii); JSON.stringify does not. */
function pythonJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as the Python SDK's messages show one: strings in single quotes, everything else as written in code. */
function repr(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
