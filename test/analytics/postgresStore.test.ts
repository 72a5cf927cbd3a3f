import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { openAnalyticsStore, type AnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { startPostgres, type TestPostgres } from '../harness/postgres.js';
import { CREATE_INFERENCE_LOG, FILL_INFERENCE_LOG, rejection, thresholdQueryCases } from './thresholdQueryCases.js';

function expectNoPassword(message: string, password: string): void {
  expect(message).not.toContain(password);
  expect(message).not.toContain(encodeURIComponent(password));
}

describe('PostgreSQL analytics store on a real server', () => {
  let server: TestPostgres;
  let store: AnalyticsStore;
  beforeAll(async () => {
    server = await startPostgres();
    const direct = new pg.Client({ connectionString: server.url });
    await direct.connect();
    try {
      await direct.query(CREATE_INFERENCE_LOG);
      await direct.query(FILL_INFERENCE_LOG);
    } finally {
      await direct.end();
    }
    store = await openAnalyticsStore(server.url, { refitHome: '/nonexistent' });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('describes itself by host, port and database, without the password', () => {
    expect(store.description).toBe(`PostgreSQL (127.0.0.1:${server.port}/analytics)`);
    expectNoPassword(store.description, server.password);
  });

  thresholdQueryCases(() => store, { slowQuery: 'SELECT count(*) FROM pg_sleep(30)' });

  it('refuses a statement that would end the read-only transaction', async () => {
    const error = await rejection(store.queryNumber('COMMIT'));
    expect(error.kind).toBe('not_read_only');
  });

  it('gives a wrong password as unavailable, and never shows it', async () => {
    const wrongPassword = `not-${server.password}`;
    const url = `postgres://${server.user}:${encodeURIComponent(wrongPassword)}@127.0.0.1:${server.port}/analytics`;
    const wrong = await openAnalyticsStore(url, { refitHome: '/nonexistent' });
    try {
      const error = await rejection(wrong.queryNumber('SELECT 1'));
      expect(error.kind).toBe('unavailable');
      expect(error.message).toContain(`PostgreSQL (127.0.0.1:${server.port}/analytics)`);
      expect(error.message).toContain('password authentication failed');
      expectNoPassword(error.message, wrongPassword);
      expectNoPassword(JSON.stringify(error), wrongPassword);
    } finally {
      await wrong.close();
    }
  });

  it('gives a database that does not exist as unavailable, naming it', async () => {
    const missing = await openAnalyticsStore(server.url.replace(/\/analytics$/, '/no_such_db'), { refitHome: '/nonexistent' });
    try {
      const error = await rejection(missing.queryNumber('SELECT 1'));
      expect(error.kind).toBe('unavailable');
      expect(error.message).toContain('no_such_db');
      expectNoPassword(error.message, server.password);
    } finally {
      await missing.close();
    }
  });
});

describe('PostgreSQL analytics store when the server goes away', () => {
  it('answers while the server runs, then gives unavailable once it is stopped, never showing the password', async () => {
    const server = await startPostgres();
    const store = await openAnalyticsStore(server.url, { refitHome: '/nonexistent' });
    try {
      expect(await store.queryNumber('SELECT 41 + 1')).toBe(42);
      await server.stop();
      const error = await rejection(store.queryNumber('SELECT 41 + 1'));
      expect(error.kind).toBe('unavailable');
      expect(error.message).toContain(`PostgreSQL (127.0.0.1:${server.port}/analytics)`);
      expect(error.message).toContain('server is running');
      expectNoPassword(error.message, server.password);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
