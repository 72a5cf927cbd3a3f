// Generated inference logs for the dynamic-threshold figure: one CSV file per size (the source every
// engine reads), loaded into a DuckDB file and into a PostgreSQL table.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { LOG_START, SPAN_SECONDS } from './logShape.js';

const run = promisify(execFile);

export const COLUMNS = "{'ts': 'TIMESTAMP', 'model_id': 'VARCHAR', 'score': 'DOUBLE', 'latency_ms': 'DOUBLE'}";

async function withDuckdb<T>(file: string, use: (connection: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file);
  try {
    const connection = await instance.connect();
    try {
      return await use(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Writes `rows` log rows to a CSV file: ts, model_id (four models), score in [0, 1), latency_ms in [5, 55). */
export async function writeLogCsv(file: string, rows: number): Promise<void> {
  await withDuckdb(':memory:', async (connection) => {
    await connection.run(
      `COPY (SELECT TIMESTAMP '${LOG_START}' + to_seconds((i * ${SPAN_SECONDS}) // ${rows}) AS ts, 'model-' || (i % 4) AS model_id, ` +
        `round(random(), 6) AS score, round(5 + random() * 50, 3) AS latency_ms FROM range(${rows}) t(i)) TO '${file}' (HEADER, DELIMITER ',')`,
    );
  });
}

/** A DuckDB file with the CSV's rows in the table inference_log. */
export async function loadIntoDuckdb(csv: string, file: string): Promise<void> {
  await withDuckdb(file, (connection) => connection.run(`CREATE TABLE inference_log AS SELECT * FROM read_csv('${csv}', header = true, columns = ${COLUMNS})`));
}

/** The CSV's rows in the PostgreSQL table inference_log, through psql's \copy (client side, no superuser needed). */
export async function loadIntoPostgres(csv: string, url: string, postgresBin: string, table = 'inference_log'): Promise<void> {
  const psql = existsSync(path.join(postgresBin, 'psql')) ? path.join(postgresBin, 'psql') : 'psql';
  const sql = [
    `DROP TABLE IF EXISTS ${table}`,
    `CREATE TABLE ${table} (ts timestamp NOT NULL, model_id text NOT NULL, score double precision NOT NULL, latency_ms double precision NOT NULL)`,
  ];
  await run(psql, [
    url,
    '-v',
    'ON_ERROR_STOP=1',
    '-q',
    ...sql.flatMap((statement) => ['-c', statement]),
    '-c',
    `\\copy ${table} FROM '${csv}' WITH (FORMAT csv, HEADER true)`,
    '-c',
    `ANALYZE ${table}`,
  ]);
}
