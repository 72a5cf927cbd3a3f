// Figure 5: a typical dynamic threshold's SQL over generated inference logs, through Refit's analytics
// store (DuckDB file, DuckDB reading the CSV, PostgreSQL table), against a plain script over the same file.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openAnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { DEFAULT_DUCKDB_LIMITS } from '../../activities/analytics/duckdbStore.js';
import { startPostgres } from '../../test/harness/postgres.js';
import { onCleanup } from '../lib/cleanup.js';
import type { FigureResult, Measurement } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs } from '../lib/stats.js';
import { postgresBinDir } from '../lib/tools.js';
import { COLUMNS, loadIntoDuckdb, loadIntoPostgres, writeLogCsv } from '../threshold/inferenceLogs.js';
import { THRESHOLD_QUERIES, type ThresholdQuery } from '../threshold/logShape.js';

const run = promisify(execFile);
const plainScript = fileURLToPath(new URL('../threshold/plainAggregate.js', import.meta.url));
const QUERY_TIMEOUT_MS = 10 * 60_000;

export interface ThresholdOptions {
  sizes: { rows: number; repetitions: number }[];
}

const ENGINES = ['duckdb-file', 'duckdb-csv', 'postgres', 'plain'] as const;
type Engine = (typeof ENGINES)[number];
const ENGINE_LABELS: Record<Engine, string> = {
  'duckdb-file': 'DuckDB file (table inference_log)',
  'duckdb-csv': 'DuckDB in memory reading the CSV (read_csv)',
  postgres: 'PostgreSQL table',
  plain: 'plain Node script reading the CSV',
};

export async function thresholdFigure(stack: BenchStack, options: ThresholdOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const dir = path.join(stack.stateDir, 'threshold');
  mkdirSync(dir, { recursive: true });
  const [postgres, postgresBin] = await Promise.all([startPostgres(), postgresBinDir()]);
  const stopPostgres = onCleanup('PostgreSQL', () => postgres.stop());
  const tables: FigureResult['tables'] = [];
  const notes: string[] = [];
  const disagreements: string[] = [];
  try {
    for (const { rows, repetitions } of options.sizes) {
      const csv = path.join(dir, `logs-${rows}.csv`);
      const duckdbFile = path.join(dir, `analytics-${rows}.duckdb`);
      const prepared = nowMs();
      await writeLogCsv(csv, rows);
      const generatedS = (nowMs() - prepared) / 1000;
      await loadIntoDuckdb(csv, duckdbFile);
      const duckdbS = (nowMs() - prepared) / 1000 - generatedS;
      await loadIntoPostgres(csv, postgres.url, postgresBin);
      const postgresS = (nowMs() - prepared) / 1000 - generatedS - duckdbS;
      notes.push(
        `${rows.toLocaleString('en-US')} rows: the CSV (${(statSync(csv).size / 2 ** 20).toFixed(0)} MiB) generated in ${generatedS.toFixed(1)} s, ` +
          `loaded into DuckDB in ${duckdbS.toFixed(1)} s and into PostgreSQL (\\copy, ANALYZE) in ${postgresS.toFixed(1)} s (not part of the figure).`,
      );

      const query = async (engine: Engine, which: ThresholdQuery): Promise<{ ms: number; value: number }> => {
        const sql = THRESHOLD_QUERIES[which];
        const started = nowMs();
        let value: number;
        if (engine === 'plain') {
          const { stdout } = await run(process.execPath, [plainScript, csv, which]);
          value = Number(stdout.trim());
        } else {
          // As a condition check does it: open the store, run the one query, close it.
          const url = engine === 'postgres' ? postgres.url : engine === 'duckdb-file' ? `duckdb:${duckdbFile}` : 'duckdb::memory:';
          const text = engine === 'duckdb-csv' ? sql.replace('FROM inference_log', `FROM read_csv('${csv}', header = true, columns = ${COLUMNS})`) : sql;
          const store = await openAnalyticsStore(url, { refitHome: stack.home, duckdb: { ...DEFAULT_DUCKDB_LIMITS, allowedPaths: [path.dirname(csv)] } });
          try {
            value = await store.queryNumber(text, { timeoutMs: QUERY_TIMEOUT_MS });
          } finally {
            await store.close();
          }
        }
        return { ms: nowMs() - started, value };
      };

      for (const which of Object.keys(THRESHOLD_QUERIES) as ThresholdQuery[]) {
        const times: Record<Engine, number[]> = { 'duckdb-file': [], 'duckdb-csv': [], postgres: [], plain: [] };
        for (let rep = 0; rep < repetitions; rep++) {
          const values = {} as Record<Engine, number>;
          for (const engine of [...ENGINES.slice(rep % ENGINES.length), ...ENGINES.slice(0, rep % ENGINES.length)]) {
            const result = await query(engine, which);
            times[engine].push(result.ms);
            values[engine] = result.value;
          }
          for (const engine of ENGINES) {
            if (Math.abs(values[engine] - values.plain) > 1e-9 * Math.max(1, Math.abs(values.plain))) {
              disagreements.push(`${rows} rows, ${which}: ${engine} gave ${values[engine]}, the plain script ${values.plain}`);
            }
          }
        }
        const plain = { label: ENGINE_LABELS.plain, values: times.plain };
        tables.push({
          title: `${rows.toLocaleString('en-US')} rows, ${which}: \`${THRESHOLD_QUERIES[which]}\``,
          rows: ENGINES.map((engine): Measurement => ({
            label: ENGINE_LABELS[engine],
            unit: 'ms',
            values: times[engine],
            ...(engine === 'plain' ? {} : { baseline: plain }),
          })),
        });
      }
      rmSync(csv, { force: true });
      rmSync(duckdbFile, { force: true });
    }
  } finally {
    await stopPostgres();
  }
  notes.push(
    disagreements.length
      ? `Results that differ from the plain script: ${disagreements.slice(0, 5).join('; ')}`
      : 'Every engine returned the same number as the plain script (to 1e-9, relative) in every repetition.',
  );
  return {
    id: 'dynamic_threshold',
    title: '5. Dynamic threshold',
    method:
      'Inference logs (ts over 30 days, model_id of four models, score, latency_ms) generated once per bench run as a CSV file, loaded ' +
      'into a DuckDB file and a PostgreSQL table (defaults, no index). Each threshold query runs the way a condition check runs it: ' +
      'openAnalyticsStore(url).queryNumber(sql), then close (DuckDB opens the file afresh; PostgreSQL connects afresh). The baseline is a ' +
      "plain Node script (a process of its own, as a user's script would be) that streams the same CSV and computes the same aggregate. " +
      'Engines run back to back in rotating order.',
    tables,
    notes,
  };
}
