// Fixed intervals for ScheduledTrigger: "90s", "15m", "6h", "1d", "2w", or the named Hourly/Daily/Weekly.

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;
export const NAMED_INTERVALS = { Hourly: '1h', Daily: '1d', Weekly: '1w' } as const;

export function parseInterval(value: string): { seconds: number } | { error: string } {
  const named = NAMED_INTERVALS[value as keyof typeof NAMED_INTERVALS];
  const match = /^(\d+)(s|m|h|d|w)$/.exec(named ?? value.trim());
  if (!match) {
    return { error: `"${value}" is not an interval: write a whole number with a unit s, m, h, d or w ("15m", "6h", "1d"), or Hourly, Daily, Weekly` };
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds < 1) return { error: `"${value}" is shorter than one second` };
  return { seconds };
}
