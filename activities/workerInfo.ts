import os from 'node:os';

export interface WorkerDescription {
  hostname: string;
  pid: number;
  node: string;
}

export function describeThisProcess(): WorkerDescription {
  return { hostname: os.hostname(), pid: process.pid, node: process.version };
}
