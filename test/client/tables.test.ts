// The CLI's tables and times, kubectl-style: plain columns that fit the terminal, whole with -o wide.
import { describe, expect, it } from '@jest/globals';
import { relativeTime, table } from '../../client/cliContext.js';
import { readableNumbers } from '../../client/output.js';

describe('table', () => {
  const rows = [
    ['weekly-retrain', 'churn', 'cron "0 3 * * mon" Europe/Berlin (At 03:00, only on Monday)'],
    ['hourly', 'fraud', 'every 6h'],
  ];

  it('aligns columns three spaces apart under upper-case headings, without borders', () => {
    expect(table(['automation', 'model', 'trigger'], rows, { wide: true }).split('\n')).toEqual([
      'AUTOMATION       MODEL   TRIGGER',
      'weekly-retrain   churn   cron "0 3 * * mon" Europe/Berlin (At 03:00, only on Monday)',
      'hourly           fraud   every 6h',
    ]);
  });

  it('fits a width by cutting the widest column, and -o wide keeps every column whole', () => {
    const lines = table(['automation', 'model', 'trigger'], rows, { width: 50 }).split('\n');
    expect(lines.every((line) => line.length <= 50)).toBe(true);
    expect(lines[1]).toBe('weekly-retrain   churn   cron "0 3 * * mon" Europ…');
    expect(table(['automation', 'model', 'trigger'], rows, { width: 50, wide: true })).toContain('only on Monday)');
  });
});

describe('relativeTime', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  it('says how far a time is, to the unit that matters', () => {
    const at = (seconds: number) => relativeTime(new Date(now.getTime() + seconds * 1000), now);
    expect([at(-2), at(-45), at(-600), at(-7200), at(3 * 86400), at(300)]).toEqual(['just now', '45s ago', '10m ago', '2h ago', 'in 3d', 'in 5m']);
    expect(relativeTime(undefined, now)).toBe('');
  });
});

describe('readableNumbers', () => {
  it('rounds long decimals in a sentence to 4 significant digits and leaves the rest alone', () => {
    expect(readableNumbers('f1_score 0.9888888888888889 is above the threshold 0.65 (build b-123456789012, 12.5 s)')).toBe(
      'f1_score 0.9889 is above the threshold 0.65 (build b-123456789012, 12.5 s)',
    );
    expect(readableNumbers('latency 1234.56789 ms')).toBe('latency 1235 ms');
  });
});
