// Fixed intervals for ScheduledTrigger: "90s", "15m", "6h", "1d", "2w", or the named Hourly/Daily/Weekly.

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;
/** The longest interval anything may wait (a schedule, a catch-up window, an approval, a canary step). */
export const MAX_INTERVAL_SECONDS = 366 * 86400;
export const NAMED_INTERVALS = { Hourly: '1h', Daily: '1d', Weekly: '1w' } as const;

export function parseInterval(value: string): { seconds: number } | { error: string } {
  const named = NAMED_INTERVALS[value as keyof typeof NAMED_INTERVALS];
  const match = /^(\d+)(s|m|h|d|w)$/.exec(named ?? value.trim());
  if (!match) {
    return { error: `"${value}" is not an interval: write a whole number with a unit s, m, h, d or w ("15m", "6h", "1d"), or Hourly, Daily, Weekly` };
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds < 1) return { error: `"${value}" is shorter than one second` };
  if (!(seconds <= MAX_INTERVAL_SECONDS))
    return { error: `"${value.length > 24 ? `${value.slice(0, 24)}…` : value}" is longer than the longest interval allowed (366d)` };
  return { seconds };
}
