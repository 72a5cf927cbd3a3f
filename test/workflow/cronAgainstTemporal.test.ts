import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { nextFireTimes, readCron } from '../../spec/cron.js';
import { connectToTestServer, uniqueTaskQueue } from '../harness/temporal.js';

// The cron reader claims Temporal's semantics; the real server is the judge. Each expression becomes a
// paused schedule, and the fire times the server plans must be the ones Refit shows.
const expressions: [string, string][] = [
  ['0 0 * * 0', 'UTC'],
  ['0 0 13 * 5', 'UTC'],
  ['*/20 9-17 * * mo-fr', 'UTC'],
  ['5/20 * * * *', 'UTC'],
  ['0 6 * * *', 'Europe/Berlin'],
  ['30 1 1,15 * *', 'America/New_York'],
  ['@monthly', 'UTC'],
  ['0 0 * * 7', 'Asia/Tokyo'],
];

describe('cron fire times agree with the Temporal server', () => {
  let server: Awaited<ReturnType<typeof connectToTestServer>>;
  beforeAll(async () => {
    server = await connectToTestServer();
  });
  afterAll(async () => server?.close());

  it.each(expressions)('%s in %s', async (expression, timeZone) => {
    const reading = readCron(expression);
    if ('error' in reading) throw new Error(reading.error);
    const scheduleId = `cron-check-${uniqueTaskQueue('cron')}`;
    const handle = await server.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [expression], timezone: timeZone },
      action: { type: 'startWorkflow', workflowType: 'smokeTest', taskQueue: 'nobody-polls-this', args: ['cron'] },
      state: { paused: true },
    });
    try {
      const described = await handle.describe();
      const planned = described.info.nextActionTimes.map((time) => time.toISOString());
      expect(planned.length).toBeGreaterThanOrEqual(3);
      // Our times start from a moment before the server's first planned time, so both lists cover the same span.
      const from = new Date(described.info.nextActionTimes[0]!.getTime() - 1000);
      const ours = nextFireTimes(reading, timeZone, from, planned.length).map((time) => time.toISOString());
      expect(ours).toEqual(planned);
    } finally {
      await handle.delete();
    }
  });
});
