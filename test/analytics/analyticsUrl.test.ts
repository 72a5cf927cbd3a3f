import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsUrlError, openAnalyticsStore } from '../../activities/analytics/analyticsStore.js';
import { readAnalyticsUrl } from '../../activities/analytics/analyticsUrl.js';

let home: string;
let emptyHome: string;
let file: string;

beforeAll(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'refit-analytics-url-'));
  home = path.join(dir, 'home');
  emptyHome = path.join(dir, 'empty-home');
  mkdirSync(home);
  mkdirSync(emptyHome);
  // openAnalyticsStore only checks that the file exists; queries are what open it.
  file = path.join(home, 'analytics.duckdb');
  writeFileSync(file, '');
});
afterAll(() => rmSync(path.dirname(home), { recursive: true, force: true }));

describe('reading REFIT_ANALYTICS_URL', () => {
  it.each([undefined, '', '   '])('takes the DuckDB file in REFIT_HOME for %p when there is one', (url) => {
    expect(readAnalyticsUrl(url, home)).toEqual({ kind: 'duckdb', file });
  });

  it.each([undefined, ''])('takes an in-memory DuckDB for %p when REFIT_HOME has no file', (url) => {
    expect(readAnalyticsUrl(url, emptyHome)).toEqual({ kind: 'duckdb' });
  });

  it.each([
    ['duckdb:/data/analytics.duckdb', '/data/analytics.duckdb'],
    ['duckdb:///data/analytics.duckdb', '/data/analytics.duckdb'],
    ['duckdb:data/analytics.duckdb', '/work/dir/data/analytics.duckdb'],
    ['duckdb:../analytics.duckdb', '/work/analytics.duckdb'],
    ['DuckDB:/data/analytics.duckdb', '/data/analytics.duckdb'],
  ])('reads %s as the DuckDB file %s (relative to the working directory)', (url, expected) => {
    expect(readAnalyticsUrl(url, home, '/work/dir')).toEqual({ kind: 'duckdb', file: expected });
  });

  it('reads duckdb::memory: as an in-memory DuckDB', () => {
    expect(readAnalyticsUrl('duckdb::memory:', home)).toEqual({ kind: 'duckdb' });
  });

  it.each(['postgres://refit:pw@db:5432/analytics', 'postgresql://refit@db/analytics', 'POSTGRES://db/analytics'])('reads %s as PostgreSQL', (url) => {
    expect(readAnalyticsUrl(url, home)).toEqual({ kind: 'postgres', url });
  });

  it.each([
    ['mysql://refit:hunter2-secret@db/analytics', 'neither duckdb: nor postgres://'],
    ['/data/analytics.duckdb', 'neither duckdb: nor postgres://'],
    ['duckdb:', 'names no file'],
    ['duckdb://fileserver/data/analytics.duckdb', 'must be empty'],
  ])('refuses %s, saying why and listing the accepted forms', (url, why) => {
    let error: unknown;
    try {
      readAnalyticsUrl(url, home);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AnalyticsUrlError);
    const message = (error as Error).message;
    expect(message).toContain('REFIT_ANALYTICS_URL');
    expect(message).toContain(why);
    for (const form of [
      'duckdb:/abs/path.duckdb',
      'duckdb:///abs/path.duckdb',
      'duckdb:relative/path.duckdb',
      'duckdb::memory:',
      'postgres://',
      'postgresql://',
    ]) {
      expect(message).toContain(form);
    }
    expect(message).not.toContain('hunter2-secret');
  });
});

describe('openAnalyticsStore', () => {
  it('opens the DuckDB file in REFIT_HOME by default, else DuckDB in memory', async () => {
    const fromHome = await openAnalyticsStore(undefined, { refitHome: home });
    expect(fromHome.description).toBe(`DuckDB (${file})`);
    await fromHome.close();
    const inMemory = await openAnalyticsStore('', { refitHome: emptyHome });
    expect(inMemory.description).toBe('DuckDB (in memory)');
    expect(await inMemory.queryNumber('SELECT 6 * 7')).toBe(42);
    await inMemory.close();
  });

  it('opens a DuckDB file given relative to the working directory', async () => {
    const store = await openAnalyticsStore(`duckdb:${path.relative(process.cwd(), file)}`, { refitHome: emptyHome });
    expect(store.description).toBe(`DuckDB (${file})`);
    await store.close();
  });

  it('refuses a DuckDB file that does not exist, naming it', async () => {
    const missing = path.join(emptyHome, 'typo.duckdb');
    await expect(openAnalyticsStore(`duckdb:${missing}`, { refitHome: home })).rejects.toThrow(AnalyticsUrlError);
    await expect(openAnalyticsStore(`duckdb:${missing}`, { refitHome: home })).rejects.toThrow(`${missing}, which does not exist`);
  });

  it('describes PostgreSQL by host, port and database only, and connects only when queried', async () => {
    const store = await openAnalyticsStore('postgresql://refit:hunter2-secret@db.example/metrics', { refitHome: home });
    expect(store.description).toBe('PostgreSQL (db.example:5432/metrics)');
    await store.close();
    const withPort = await openAnalyticsStore('postgres://refit:hunter2-secret@db.example:6543/metrics', { refitHome: home });
    expect(withPort.description).toBe('PostgreSQL (db.example:6543/metrics)');
    await withPort.close();
  });

  it('refuses a malformed PostgreSQL URL without showing it', async () => {
    const opening = openAnalyticsStore('postgres://refit:hunter2-secret@[db.example/metrics', { refitHome: home });
    await expect(opening).rejects.toThrow(AnalyticsUrlError);
    await expect(opening).rejects.toThrow(/postgres:\/\/user:password@host:port\/database/);
    await expect(opening).rejects.not.toThrow('hunter2-secret');
  });
});
