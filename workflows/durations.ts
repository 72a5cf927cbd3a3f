import { parseInterval } from '../spec/interval.js';

/** Definitions are validated before a run starts, so the interval parses. */
export function intervalMs(interval: string): number {
  const parsed = parseInterval(interval);
  return 'seconds' in parsed ? parsed.seconds * 1000 : 0;
}
