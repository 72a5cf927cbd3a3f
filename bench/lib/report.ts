// The results of a bench run: one JSON file with every repetition, and a markdown table per figure.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineInfo } from './machine.js';
import { pairedRatios, summarize, type Summary } from './stats.js';

export type Unit = 'ms' | 's' | 'MiB' | 'runs/s' | 'count' | 'x' | 'rows' | 'CPU-s';

/** One measured quantity: every repetition's value, and optionally the same repetitions of its baseline. */
export interface Measurement {
  label: string;
  unit: Unit;
  values: number[];
  /** Label of the baseline row this one is divided by, repetition by repetition. */
  baseline?: { label: string; values: number[] };
  note?: string;
}

export interface Table {
  title: string;
  rows: Measurement[];
}

export interface FigureResult {
  id: string;
  title: string;
  /** What is measured and how, in a sentence or two. */
  method: string;
  tables: Table[];
  notes: string[];
  durationS: number;
  error?: string;
  /** Anything else worth keeping (per-run details). */
  details?: unknown;
}

export interface BenchResults {
  generated_at: string;
  duration_s: number;
  command: string;
  machine: MachineInfo;
  load_average_at_end: number[];
  figures: FigureResult[];
}

const round = (value: number, digits = 3) => (Number.isFinite(value) ? Number(value.toPrecision(digits + 1)) : value);

function summaryJson(summary: Summary) {
  return { n: summary.n, median: round(summary.median), min: round(summary.min), max: round(summary.max), p25: round(summary.p25), p75: round(summary.p75) };
}

function measurementJson(row: Measurement) {
  return {
    label: row.label,
    unit: row.unit,
    ...summaryJson(summarize(row.values)),
    values: row.values.map((value) => round(value, 5)),
    ...(row.baseline ? { baseline: row.baseline.label, ratio_to_baseline: summaryJson(summarize(pairedRatios(row.values, row.baseline.values))) } : {}),
    ...(row.note ? { note: row.note } : {}),
  };
}

function format(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '–';
  if (unit === 'count' || unit === 'rows') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  const magnitude = Math.abs(value);
  // Small ratios and sizes keep two significant digits instead of rounding to zero.
  if (magnitude > 0 && magnitude < 0.01) return value.toPrecision(2);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

function markdownTable(table: Table): string {
  const lines = [
    `**${table.title}**`,
    '',
    '| measurement | unit | median | spread (min–max) | IQR | reps | ratio to baseline (median, min–max) | baseline |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of table.rows) {
    const s = summarize(row.values);
    let ratio = '';
    if (row.baseline) {
      const r = summarize(pairedRatios(row.values, row.baseline.values));
      ratio = `${format(r.median, 'x')}× (${format(r.min, 'x')}–${format(r.max, 'x')})`;
    }
    const label = row.note ? `${row.label} (${row.note})` : row.label;
    lines.push(
      `| ${label} | ${row.unit} | ${format(s.median, row.unit)} | ${format(s.min, row.unit)}–${format(s.max, row.unit)} | ` +
        `${format(s.p25, row.unit)}–${format(s.p75, row.unit)} | ${s.n} | ${ratio} | ${row.baseline?.label ?? ''} |`,
    );
  }
  return lines.join('\n');
}

export function toMarkdown(results: BenchResults): string {
  const m = results.machine;
  const parts = [
    '# Refit benchmark results',
    '',
    `Measured ${results.generated_at} by \`${results.command}\` in ${Math.round(results.duration_s)} s.`,
    '',
    `Machine: ${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB; ${m.kernel}; Node ${m.node}; ${m.temporal_cli}; ` +
      `${m.git}; ${m.python}; ${m.postgresql}; DuckDB ${m.duckdb}. Load average (1, 5, 15 min) at the start ` +
      `${m.load_average_at_start.join(' ')}, at the end ${results.load_average_at_end.join(' ')}: the machine is shared.`,
    '',
    'Every figure is the median over its repetitions with the spread (min–max and interquartile range); ratios are taken ' +
      'repetition by repetition against a baseline measured in the same run, next to it.',
  ];
  for (const figure of results.figures) {
    parts.push('', `## ${figure.title}`, '', figure.method, '');
    if (figure.error) parts.push(`**Failed:** ${figure.error}`, '');
    for (const table of figure.tables) parts.push(markdownTable(table), '');
    for (const note of figure.notes) parts.push(`- ${note}`);
    parts.push('', `_(${Math.round(figure.durationS)} s)_`);
  }
  return `${parts.join('\n')}\n`;
}

/** `name` is "latest" for a complete run; a partial or quick one writes beside it, never over it. */
export function writeResults(dir: string, results: BenchResults, name: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const markdown = path.join(dir, `${name}.md`);
  const figures = results.figures.map((figure) => ({
    ...figure,
    durationS: Math.round(figure.durationS),
    tables: figure.tables.map((table) => ({ title: table.title, rows: table.rows.map(measurementJson) })),
  }));
  writeFileSync(json, `${JSON.stringify({ ...results, duration_s: Math.round(results.duration_s), figures }, null, 2)}\n`);
  writeFileSync(markdown, toMarkdown(results));
  return { json, markdown };
}

const START_MARK = '<!-- results:start -->';
const END_MARK = '<!-- results:end -->';

/** Copies the results' tables into bench/README.md between its markers, headings one level down. */
export function copyIntoReadme(readme: string, results: BenchResults): void {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(START_MARK);
  const end = text.indexOf(END_MARK);
  if (start === -1 || end < start) throw new Error(`${readme} has no ${START_MARK} … ${END_MARK} section for the results`);
  const body = toMarkdown(results)
    .split('\n')
    .slice(1)
    .map((line) => (line.startsWith('#') ? `#${line}` : line))
    .join('\n')
    .trim();
  writeFileSync(readme, `${text.slice(0, start + START_MARK.length)}\n${body}\n${text.slice(end)}`);
}
