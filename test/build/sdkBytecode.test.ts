import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { compileSdkBytecode, sdkPackageFolders } from '../../activities/build/sdkBytecode.js';
import { packageRoot } from '../../platform/paths.js';

const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
const cacheTag = execFileSync(python, ['-c', 'import sys; print(sys.implementation.cache_tag)'], { encoding: 'utf8' }).trim();
const root = mkdtempSync(path.join(os.tmpdir(), 'refit-sdk-bytecode-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of refit_sdk's sources alone, as a fresh install has them. */
function sdkCopy(name: string): string {
  const entry = path.join(root, name);
  cpSync(path.join(packageRoot(), 'sdk', 'python', 'refit_sdk'), path.join(entry, 'refit_sdk'), {
    recursive: true,
    filter: (source) => !source.includes('__pycache__'),
  });
  return entry;
}

const modules = (entry: string) =>
  readdirSync(path.join(entry, 'refit_sdk'))
    .filter((file) => file.endsWith('.py'))
    .map((file) => file.slice(0, -3));

describe('compileSdkBytecode', () => {
  it("writes each refit_sdk module's bytecode for the interpreter, which a process that may not write bytecode then loads", async () => {
    const entry = sdkCopy('fresh');
    expect(await compileSdkBytecode(python, `${entry}:${path.join(root, 'missing')}`)).toBe(true);
    for (const module of modules(entry)) expect(existsSync(path.join(entry, 'refit_sdk', '__pycache__', `${module}.${cacheTag}.pyc`))).toBe(true);
    // As a confined build imports it: PYTHONDONTWRITEBYTECODE, as if the folder were read-only. -v says where each module's code came from.
    const { stderr } = spawnSync(python, ['-v', '-c', 'import refit_sdk.build'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: entry, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    });
    const codeFrom = stderr.split('\n').filter((line) => line.startsWith('# code object from') && line.includes(`${entry}/refit_sdk/`));
    expect(codeFrom).toContain(`# code object from '${entry}/refit_sdk/__pycache__/build.${cacheTag}.pyc'`);
    expect(codeFrom.filter((line) => line.endsWith('.py'))).toEqual([]);
  });

  it('resolves false, and leaves the folder as it was, where the bytecode cannot be written', async () => {
    const entry = sdkCopy('unwritable');
    // The worker runs as root in tests, so a mode would not stop it: a file where the cache folder goes does.
    writeFileSync(path.join(entry, 'refit_sdk', '__pycache__'), 'not a folder');
    expect(await compileSdkBytecode(python, entry)).toBe(false);
    expect(readdirSync(path.join(entry, 'refit_sdk')).sort()).toEqual([...modules(entry).map((module) => `${module}.py`), '__pycache__'].sort());
  });

  it('finds the refit_sdk folders of a search path, and compiles nothing when there is none', async () => {
    expect(sdkPackageFolders(`${path.join(root, 'fresh')}::${path.join(root, 'missing')}`)).toEqual([path.join(root, 'fresh', 'refit_sdk')]);
    expect(await compileSdkBytecode(python, path.join(root, 'missing'))).toBe(false);
  });
});
