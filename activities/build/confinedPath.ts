// Files of a model repository, and files a build wrote, are read by the worker itself (to hash a dependency
// file, parse refit.yaml, read metrics). A repository or a build can make such a file a symbolic link to any
// file of the worker's (a secret, say); these helpers read only regular files that really lie inside the folder.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { ErrorTypes, RefitError } from '../../shared/errors.js';

/** The real path of `relative` inside `folder`, or a RefitError naming `field` when it leads outside it. */
export function pathInside(folder: string, relative: string, field: string): string {
  const root = realpathSync(folder);
  let real: string;
  try {
    real = realpathSync(path.resolve(root, relative));
  } catch {
    return path.resolve(root, relative);
  }
  if (real !== root && !real.startsWith(`${root}${path.sep}`)) {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      `${field} "${relative}" leads outside the model folder (through "..", an absolute path or a symbolic link); it must name a file inside it`,
    );
  }
  return real;
}

/**
 * The text of a regular file, opened without following a symbolic link at its last step and read up to
 * `maxBytes`: what a build or a repository put there, never a file it pointed at.
 */
export function readOwnFile(file: string, maxBytes: number, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw new RefitError(ErrorTypes.InvalidDefinition, `${what} is a symbolic link; it must be a file of its own`);
    throw err;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new RefitError(ErrorTypes.InvalidDefinition, `${what} is not a regular file`);
    if (info.size > maxBytes) throw new RefitError(ErrorTypes.InvalidDefinition, `${what} is ${info.size} bytes, more than the ${maxBytes} Refit reads`);
    const buffer = Buffer.alloc(info.size);
    let read = 0;
    while (read < info.size) {
      const count = readSync(fd, buffer, read, info.size - read, read);
      if (count === 0) break;
      read += count;
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
