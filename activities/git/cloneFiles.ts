// Two things a fresh clone needs that git would otherwise be started for: the sparse-checkout patterns of
// a folder, and the commit HEAD names. Each git process costs the worker a fork of itself, which blocks
// its event loop for about 10 ms on these machines (the git process itself costs next to nothing), so a
// clone reads and writes these files itself where their form is plain, and asks git otherwise.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Folder names written as patterns here; anything else (git's glob characters, control characters) is left to git. */
const PLAIN_FOLDER_PART = /^[\p{L}\p{N}._@+=,~-]+( [\p{L}\p{N}._@+=,~-]+)*$/u;

/**
 * The cone-mode patterns `git sparse-checkout set <folder>` writes: the files at the top, and each folder
 * on the way down without its sub-folders, except the last, which is taken whole. Undefined for a name
 * whose patterns git would escape or refuse.
 */
export function conePatternsOf(folder: string): string | undefined {
  const parts = folder.split('/');
  if (!folder || !parts.every((part) => PLAIN_FOLDER_PART.test(part))) return undefined;
  const lines = ['/*', '!/*/'];
  parts.forEach((_, index) => {
    const prefix = `/${parts.slice(0, index + 1).join('/')}/`;
    lines.push(prefix);
    if (index < parts.length - 1) lines.push(`!${prefix}*/`);
  });
  return `${lines.join('\n')}\n`;
}

const OBJECT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The commit HEAD points at in a clone's `.git` (a detached HEAD, a loose ref or a packed one); undefined
 * where it cannot be read that way (another ref storage), so the caller asks git.
 */
export async function headCommitOf(repositoryDir: string): Promise<string | undefined> {
  const gitDir = path.join(repositoryDir, '.git');
  const head = (await readOptional(path.join(gitDir, 'HEAD')))?.trim();
  if (!head) return undefined;
  if (OBJECT_ID.test(head)) return head;
  const ref = /^ref: (refs\/[^\s]+)$/.exec(head)?.[1];
  if (!ref || ref.split('/').includes('..')) return undefined;
  const loose = (await readOptional(path.join(gitDir, ref)))?.trim();
  if (loose !== undefined) return OBJECT_ID.test(loose) ? loose : undefined;
  const packed = await readOptional(path.join(gitDir, 'packed-refs'));
  const line = packed?.split('\n').find((entry) => entry.endsWith(` ${ref}`));
  const id = line?.slice(0, line.indexOf(' '));
  return id && OBJECT_ID.test(id) ? id : undefined;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
