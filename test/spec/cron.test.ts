import { describe, expect, it } from '@jest/globals';
import { nextFireTimes, readCron, type CronReading } from '../../spec/cron.js';

function reading(expression: string): CronReading {
  const result = readCron(expression);
  if ('error' in result) throw new Error(`${expression}: ${result.error}`);
  return result;
}

function next(expression: string, timeZone: string, from: string, count: number): string[] {
  return nextFireTimes(reading(expression), timeZone, new Date(from), count).map((date) => date.toISOString());
}

describe('cron as Temporal reads it', () => {
  it("fires the seed's weekly cron on Sundays at midnight UTC", () => {
    expect(next('0 0 * * 0', 'UTC', '2026-11-27T10:00:00Z', 3)).toEqual(['2026-11-29T00:00:00.000Z', '2026-12-06T00:00:00.000Z', '2026-12-13T00:00:00.000Z']);
  });

  it('requires both day fields to match when both are restricted (classic cron takes either), and warns', () => {
    const friday13 = reading('0 0 13 * 5');
    expect(friday13.bothDaysMustMatch).toBe(true);
    expect(friday13.warnings[0]).toMatch(/fires only on days that match both/);
    const times = nextFireTimes(friday13, 'UTC', new Date('2026-01-01T00:00:00Z'), 3);
    expect(times.map((t) => t.toISOString().slice(0, 10))).toEqual(['2026-02-13', '2026-03-13', '2026-11-13']);
    for (const time of times) {
      expect(time.getUTCDate()).toBe(13);
      expect(time.getUTCDay()).toBe(5);
    }
  });

  it('reads names as Temporal does: month prefixes of three letters, weekday prefixes of two, 7 as Sunday', () => {
    expect(reading('0 0 1 janu *').expression).toBe('0 0 1 1 *');
    expect(reading('0 9 * * mo-fr').expression).toBe('0 9 * * 1-5');
    expect(reading('0 0 * * 7').values[4]).toEqual([0]);
  });

  it('reads "x/y" as x to the maximum in steps of y', () => {
    expect(reading('5/20 * * * *').values[0]).toEqual([5, 25, 45]);
  });

  it('expands the shorthands', () => {
    expect(reading('@weekly').expression).toBe('0 0 * * 0');
    expect(reading('@hourly').expression).toBe('0 * * * *');
  });

  it('computes fire times in the time zone, across a daylight-saving change', () => {
    // Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29.
    expect(next('0 6 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T05:00:00.000Z',
      '2026-03-29T04:00:00.000Z',
      '2026-03-30T04:00:00.000Z',
    ]);
  });

  it('describes the expression in words', () => {
    expect(reading('0 0 * * 0').description).toBe('At 00:00, only on Sunday');
    expect(reading('*/15 9-17 * * 1-5').description).toBe('Every 15 minutes, between 09:00 and 17:59, Monday through Friday');
  });

  it.each([
    ['0 0 * * 0 2027', /6 fields/],
    ['0 0 31 2 *', /never fires/],
    ['0 0 30 2,4 *', /^(?!never)/],
    ['0 0 ? * 1', /L, W, # or \?/],
    ['0 0 1#2 * *', /L, W, # or \?|not a number/],
    ['0 24 * * *', /outside 0-23/],
    ['0 0 * 13 *', /outside 1-12/],
    ['0 0 * * 8', /outside 0-7/],
    ['*/0 * * * *', /step "0"/],
    ['0 0 * * ja', /not a number or a weekday name/],
  ])('rejects or accepts %s as Temporal would', (expression, expected) => {
    const result = readCron(expression);
    const text = 'error' in result ? result.error : result.expression;
    expect(text).toMatch(expected);
  });
});
