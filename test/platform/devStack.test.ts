// One dev stack per Refit home: `refit dev` takes its ports or fails naming who holds them, and records where it
// serves so that commands with the same home talk to it. (Starting a whole stack is the demo's test; here the
// failure path runs `refit dev` for real, and the record is read as every command reads it.)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { devServerRecordFile, runningDevServer } from '../../platform/devStackRecord.js';
import { packageRoot } from '../../platform/paths.js';
import { describeHolder, portHolder } from '../../platform/portHolder.js';
import { temporalSettings } from '../../platform/temporalSettings.js';

describe('the dev stack of a Refit home', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'refit-dev-home-'));
  const holder = net.createServer().listen(0, '127.0.0.1');
  afterAll(() => {
    holder.close();
    rmSync(home, { recursive: true, force: true });
  });
  const heldPort = () => (holder.address() as net.AddressInfo).port;

  it('names the process that holds a port', async () => {
    await new Promise((resolve) => (holder.listening ? resolve(undefined) : holder.once('listening', resolve)));
    const found = portHolder(heldPort());
    expect(found.pid).toBe(process.pid);
    expect(describeHolder(found)).toMatch(new RegExp(`^pid ${process.pid} \\(.*node`));
    expect(portHolder(1)).toEqual({});
  });

  it('refit dev refuses a taken port, naming its holder, and starts nothing', async () => {
    const child = spawn(process.execPath, [path.join(packageRoot(), 'dist', 'client', 'cli.js'), 'dev'], {
      env: { ...process.env, REFIT_HOME: home, REFIT_DEV_PORT: String(heldPort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toContain(`port ${heldPort()} (Temporal) is taken by pid ${process.pid}`);
    expect(output).toContain('REFIT_DEV_PORT');
    expect(runningDevServer(home)).toBeUndefined();
  }, 60_000);

  it("sends commands with that home to its stack while the stack's process lives", () => {
    const previous = { home: process.env.REFIT_HOME, address: process.env.TEMPORAL_ADDRESS };
    process.env.REFIT_HOME = home;
    delete process.env.TEMPORAL_ADDRESS;
    try {
      mkdirSync(path.dirname(devServerRecordFile(home)), { recursive: true });
      writeFileSync(devServerRecordFile(home), JSON.stringify({ address: '127.0.0.1:17999', namespace: 'default', logFile: 'x', pid: process.pid }));
      expect(temporalSettings().connectionOptions.address).toBe('127.0.0.1:17999');
      // A record whose process is gone counts for nothing.
      writeFileSync(devServerRecordFile(home), JSON.stringify({ address: '127.0.0.1:17999', namespace: 'default', logFile: 'x', pid: 2 ** 22 + 1 }));
      expect(temporalSettings().connectionOptions.address).toBe('localhost:7233');
      // TEMPORAL_ADDRESS always wins.
      process.env.TEMPORAL_ADDRESS = '10.0.0.5:7233';
      expect(temporalSettings().connectionOptions.address).toBe('10.0.0.5:7233');
    } finally {
      for (const [name, value] of [
        ['REFIT_HOME', previous.home],
        ['TEMPORAL_ADDRESS', previous.address],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
