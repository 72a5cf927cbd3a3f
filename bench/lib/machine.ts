// What the numbers were measured on: they mean little without it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const run = promisify(execFile);

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_gib: number;
  kernel: string;
  node: string;
  temporal_cli: string;
  git: string;
  python: string;
  postgresql: string;
  duckdb: string;
  load_average_at_start: number[];
}

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args);
    return (stdout.trim() || stderr.trim()).split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  const fromNode = os.cpus()[0]?.model?.trim();
  if (fromNode) return fromNode;
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? 'unknown';
}

async function duckdbVersion(): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll('SELECT version()');
    connection.closeSync();
    return String(reader.getRows()[0]?.[0] ?? 'unknown');
  } finally {
    instance.closeSync();
  }
}

export async function describeMachine(tools: { temporal: string; python: string; postgresBin?: string }): Promise<MachineInfo> {
  return {
    cpu_model: cpuModel(),
    cores: os.cpus().length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    temporal_cli: await firstLine(tools.temporal, ['--version']),
    git: await firstLine('git', ['--version']),
    python: await firstLine(tools.python, ['--version']),
    postgresql: tools.postgresBin ? await firstLine(`${tools.postgresBin}/postgres`, ['--version']) : 'not used',
    duckdb: await duckdbVersion(),
    load_average_at_start: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
