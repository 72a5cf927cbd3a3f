// refit_sdk compiled to bytecode once per interpreter and worker, next to its sources. Builds and model
// servers see the SDK read-only, so without it each of their processes compiled the SDK again (about 8 ms
// of CPU each, a tenth of a near-no-op build). The SDK is part of the worker's install, which the worker
// trusts; model code cannot write the bytecode, as its folder stays read-only to it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const compiled = new Map<string, Promise<boolean>>();

/** The refit_sdk folders on an SDK search path (its entries split on ':'). */
export function sdkPackageFolders(sdkPythonPath: string): string[] {
  return sdkPythonPath
    .split(':')
    .filter(Boolean)
    .map((entry) => path.join(entry, 'refit_sdk'))
    .filter((folder) => existsSync(folder));
}

/**
 * Resolves true once the SDK's bytecode for `python` is there, false where it could not be written (an
 * install folder the worker may not write): processes then compile it in memory, as they always could.
 * `python` is the worker's own interpreter (REFIT_PYTHON), never a model environment's: this runs unconfined.
 * Isolated and without `site`, it reads no PYTHON* variable and no .pth file.
 */
export function compileSdkBytecode(python: string, sdkPythonPath: string): Promise<boolean> {
  const key = `${python}\0${sdkPythonPath}`;
  let done = compiled.get(key);
  if (!done) {
    const folders = sdkPackageFolders(sdkPythonPath);
    // compileall skips what is up to date, and writes whatever PYTHONDONTWRITEBYTECODE says.
    done = folders.length
      ? run(python, ['-I', '-S', '-m', 'compileall', '-q', ...folders], { timeout: 60_000 }).then(
          () => true,
          () => false,
        )
      : Promise.resolve(false);
    compiled.set(key, done);
  }
  return done;
}
