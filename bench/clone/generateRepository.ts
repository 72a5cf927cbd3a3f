// A repository with a long history and large files outside the model's folder, generated with
// `git fast-import` (thousands of commits in seconds) and pushed to the bench's git server over HTTP.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gitEnvironment } from '../../activities/git/cloneRepository.js';
import type { GitServer } from '../../devstack/gitServer.js';
import { TINY_MODEL_FOLDER, writeTinyModel } from '../lib/tinyModel.js';

const run = promisify(execFile);

export interface RepositoryShape {
  commits: number;
  /** Large files under data/, outside the model's folder. */
  largeFiles: number;
  largeFileMiB: number;
  /** How many times over the history each large file is rewritten (each version stays in the history). */
  largeFileVersions: number;
}

export interface GeneratedRepository {
  url: string;
  /** The model's folder in it. */
  subdirectory: string;
  /** Bytes of every blob version in the history. */
  historyBytes: number;
}

/** Writes the fast-import stream for `shape` to a fresh repository in `workDir` and pushes it as `name`.git. */
export async function generateRepository(git: GitServer, workDir: string, name: string, shape: RepositoryShape): Promise<GeneratedRepository> {
  const local = path.join(workDir, `${name}-source`);
  mkdirSync(local, { recursive: true });
  await run('git', ['init', '--quiet', '--bare', local]);
  const modelFiles = readModelFiles(path.join(workDir, `${name}-model`));
  let historyBytes = 0;

  const importer = spawn('git', ['fast-import', '--quiet'], { cwd: local, stdio: ['pipe', 'ignore', 'pipe'] });
  let errors = '';
  importer.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const finished = new Promise<void>((resolve, reject) =>
    importer.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (exit ${code}): ${errors}`)))),
  );
  const write = async (data: string | Buffer) => {
    if (!importer.stdin.write(data)) await new Promise((resolve) => importer.stdin.once('drain', resolve));
  };
  const inline = async (file: string, content: string | Buffer) => {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    historyBytes += bytes.length;
    await write(`M 100644 inline ${file}\ndata ${bytes.length}\n`);
    await write(bytes);
    await write('\n');
  };

  const rewriteEvery = Math.max(1, Math.floor(shape.commits / shape.largeFileVersions));
  const epoch = 1_700_000_000;
  for (let commit = 0; commit < shape.commits; commit++) {
    const message = `change ${commit}`;
    await write(`commit refs/heads/main\ncommitter Refit Bench <bench@refit.invalid> ${epoch + commit * 600} +0000\ndata ${message.length}\n${message}\n`);
    if (commit === 0) for (const [file, content] of modelFiles) await inline(file, content);
    if (commit % rewriteEvery === 0) {
      for (let index = 0; index < shape.largeFiles; index++) await inline(`data/large-${index}.bin`, randomBytes(shape.largeFileMiB * 2 ** 20));
    }
    // Small edits spread over many files, as a living repository has them.
    await inline(`docs/notes-${commit % 64}.md`, `# notes ${commit % 64}\n\nlast changed by commit ${commit}\n${'lorem ipsum '.repeat(20)}\n`);
    if (commit % 97 === 0) await inline(`${TINY_MODEL_FOLDER}/main/CHANGES.txt`, `model folder touched by commit ${commit}\n`);
    await write('\n');
  }
  importer.stdin.end();
  await finished;

  // The server's repository is made (with partial clone allowed) by publishing a placeholder, then replaced.
  await git.publish(name, path.join(workDir, `${name}-model`));
  const url = `${git.url}/${name}.git`;
  await run('git', ['push', '--quiet', '--force', url, 'main:main'], { cwd: local, env: gitEnvironment(git.token), maxBuffer: 1 << 20 });
  return { url, subdirectory: TINY_MODEL_FOLDER, historyBytes };
}

function readModelFiles(root: string): [string, string][] {
  writeTinyModel(root);
  const file = `${TINY_MODEL_FOLDER}/main/model.py`;
  return [[file, readFileSync(path.join(root, file), 'utf8')]];
}
