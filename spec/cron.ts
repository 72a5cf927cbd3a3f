// Cron expressions as Temporal Schedules read them, which differs from classic cron and from most
// JavaScript cron parsers in ways that change when a model is rebuilt:
// - a sixth field is the year (a seconds field, as some parsers read it, would be misread), so Refit
//   accepts five fields and the @hourly-style shorthands only;
// - where both day-of-month and day-of-week are restricted, Temporal requires both to match, while
//   classic cron fires when either does;
// - names are prefixes (three letters or more for months, two or more for weekdays); no L, W, # or ?.
// cron-parser computes the fire times (time zones, DST); the grammar check and the both-must-match
// rule are applied here so that what we show is what Temporal will do.
import { CronExpressionParser } from 'cron-parser';
import cronstrue from 'cronstrue';

const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: { list: string[]; minLength: number; offset: number };
}

const FIELDS: FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: { list: MONTHS, minLength: 3, offset: 1 } },
  { name: 'day-of-week', min: 0, max: 7, names: { list: WEEKDAYS, minLength: 2, offset: 0 } },
];

export interface CronReading {
  /** Five numeric fields, shorthands expanded and names replaced by numbers. */
  expression: string;
  /** The values each field matches, in field order (day-of-week 7 folded into 0). */
  values: number[][];
  /** True when both day fields are restricted, so Temporal requires both to match. */
  bothDaysMustMatch: boolean;
  description: string;
  warnings: string[];
}

export function readCron(input: string): CronReading | { error: string } {
  const text = input.trim();
  if (!text) return { error: 'is empty: write five fields, e.g. "0 0 * * 0" (Sundays at 00:00)' };
  if (/^(CRON_)?TZ=/.test(text)) return { error: "must not carry a time zone: set the trigger's timezone field instead" };
  if (text.startsWith('@every')) return { error: '"@every" is an interval: use the trigger\'s interval field ("15m", "6h", "1d")' };
  let expanded = text;
  if (text.startsWith('@')) {
    const shorthand = SHORTHANDS[text];
    if (!shorthand) return { error: `unknown shorthand "${text}": use one of ${Object.keys(SHORTHANDS).join(', ')}` };
    expanded = shorthand;
  }
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    const why =
      parts.length === 6 || parts.length === 7 ? ' (Temporal reads a sixth field as the year and a seventh as seconds, which is rarely what is meant)' : '';
    return { error: `has ${parts.length} fields; write exactly five: minute hour day-of-month month day-of-week${why}` };
  }
  const fields: string[] = [];
  const values: number[][] = [];
  for (const [index, rule] of FIELDS.entries()) {
    const parsed = parseField(parts[index]!, rule);
    if ('error' in parsed) return { error: `${rule.name} field "${parts[index]}": ${parsed.error}` };
    fields.push(parsed.normalized);
    values.push(parsed.values);
  }
  const longestMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (!values[3]!.some((month) => values[2]!.some((day) => day <= longestMonth[month - 1]!))) {
    return { error: 'never fires: no month it names has the days it names' };
  }
  const dayOfMonthRestricted = values[2]!.length < 31;
  const dayOfWeekRestricted = values[4]!.length < 7;
  const bothDaysMustMatch = dayOfMonthRestricted && dayOfWeekRestricted;
  const expression = fields.join(' ');
  const warnings: string[] = [];
  let description = describe(expression);
  if (bothDaysMustMatch) {
    description += ' (only on days that match both, as Temporal reads it)';
    warnings.push(
      `"${input}" restricts both day-of-month and day-of-week: Temporal fires only on days that match both ` +
        '(classic cron fires when either matches). If you meant either, use two automations.',
    );
  }
  return { expression, values, bothDaysMustMatch, description, warnings };
}

function parseField(field: string, rule: FieldRule): { normalized: string; values: number[] } | { error: string } {
  const values = new Set<number>();
  const normalized: string[] = [];
  for (const part of field.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined) return { error: `"${part}" has more than one "/"` };
    let stepValue = 1;
    if (step !== undefined) {
      if (!/^\d+$/.test(step) || Number(step) < 1) return { error: `the step "${step}" must be a whole number of 1 or more` };
      stepValue = Number(step);
    }
    let start = rule.min;
    let end = rule.max;
    let rangeText = '*';
    if (range !== '*') {
      const bounds = (range ?? '').split('-');
      if (bounds.length > 2) return { error: `"${range}" is not a range (write "a-b")` };
      const first = parseValue(bounds[0]!, rule);
      if (typeof first === 'string') return { error: first };
      start = first;
      if (bounds.length === 2) {
        const last = parseValue(bounds[1]!, rule);
        if (typeof last === 'string') return { error: last };
        if (last < start) return { error: `the range "${range}" ends before it starts` };
        end = last;
        rangeText = `${start}-${end}`;
      } else {
        // Temporal reads "x/y" as x to the field's maximum in steps of y.
        end = step === undefined ? start : rule.max;
        rangeText = String(start);
      }
    }
    for (let value = start; value <= end; value += stepValue) values.add(rule.name === 'day-of-week' && value === 7 ? 0 : value);
    normalized.push(step === undefined ? rangeText : `${rangeText}/${stepValue}`);
  }
  return { normalized: normalized.join(','), values: [...values].sort((a, b) => a - b) };
}

function parseValue(text: string, rule: FieldRule): number | string {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < rule.min || value > rule.max) return `${value} is outside ${rule.min}-${rule.max}`;
    return value;
  }
  if (rule.names && /^[a-z]+$/i.test(text) && text.length >= rule.names.minLength) {
    const index = rule.names.list.findIndex((name) => name.startsWith(text.toLowerCase()));
    if (index !== -1) return index + rule.names.offset;
  }
  if (/[LW#?]/.test(text)) return `"${text}" uses L, W, # or ?, which Temporal does not support`;
  const names = rule.names ? ` or a ${rule.name === 'month' ? 'month' : 'weekday'} name` : '';
  return `"${text}" is not a number${names}`;
}

function describe(expression: string): string {
  try {
    return cronstrue.toString(expression, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
  } catch {
    return expression;
  }
}

/**
 * The next `count` times the expression fires after `from`, in `timeZone`, as Temporal would fire them.
 * Empty when it never fires (e.g. "0 0 31 2 *").
 */
export function nextFireTimes(reading: CronReading, timeZone: string, from: Date, count: number): Date[] {
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = reading.values as [number[], number[], number[], number[], number[]];
  // A full field goes through as "*": cron-parser treats any explicit day list as a restriction.
  const fullSizes = [60, 24, 31, 12, 7];
  const explicit = [minutes, hours, daysOfMonth, months, daysOfWeek].map((set, index) => (set.length === fullSizes[index] ? '*' : set.join(','))).join(' ');
  let iterator;
  try {
    iterator = CronExpressionParser.parse(explicit, { tz: timeZone, currentDate: from });
  } catch {
    return []; // cron-parser refuses dates that cannot exist (Feb 30); Temporal accepts them and never fires.
  }
  const times: Date[] = [];
  // cron-parser fires when either day field matches; Temporal needs both, so keep only those.
  for (let scanned = 0; times.length < count && scanned < 20_000 && iterator.hasNext(); scanned++) {
    const next = iterator.next();
    if (!reading.bothDaysMustMatch || (daysOfMonth.includes(next.getDate()) && daysOfWeek.includes(next.getDay()))) {
      times.push(next.toDate());
    }
  }
  return times;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
