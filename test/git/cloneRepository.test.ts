import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cloneRepository } from '../../activities/git/cloneRepository.js';
import { conePatternsOf, headCommitOf } from '../../activities/git/cloneFiles.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';

const TOKEN = 'test-token-5f1c0d2e9a7b4c3d';

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('cloneRepository against a git server that demands a token', () => {
  let server: GitServer;
  let work: string;
  let commit: string;
  beforeAll(async () => {
    server = await startGitServer(TOKEN);
    work = mkdtempSync(path.join(os.tmpdir(), 'refit-clone-'));
    const source = path.join(work, 'source');
    mkdirSync(path.join(source, 'models', 'churn', 'main'), { recursive: true });
    mkdirSync(path.join(source, 'data'), { recursive: true });
    writeFileSync(path.join(source, 'models', 'churn', 'main', 'model.py'), 'print("model")\n');
    // A folder name outside the plain set the clone writes patterns for itself: git writes them.
    mkdirSync(path.join(source, 'models', 'churn (v2)', 'main'), { recursive: true });
    writeFileSync(path.join(source, 'models', 'churn (v2)', 'main', 'model.py'), 'print("v2")\n');
    writeFileSync(path.join(source, 'README.md'), '# models\n');
    // A large file outside the sub-directory: a sparse, partial clone must not fetch it.
    writeFileSync(path.join(source, 'data', 'big.bin'), Buffer.alloc(8 << 20, 7));
    commit = await server.publish('models', source);
    await server.publish('models', source, { branch: 'release' });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const request = (overrides: Partial<Parameters<typeof cloneRepository>[0]> = {}) => ({
    repository: `${server.url}/models.git`,
    subdirectory: 'models/churn',
    branch: 'main',
    token: TOKEN,
    tokenSecretName: 'git_token',
    destination: path.join(work, `clone-${Math.random().toString(36).slice(2)}`),
    ...overrides,
  });

  it('clones only the sub-directory, records the commit, and leaves the token nowhere on disk', async () => {
    const stages = new Set<string>();
    const wanted = request({ onProgress: ({ stage }) => stages.add(stage) });
    const seenBefore = server.requests.length;
    const result = await cloneRepository(wanted);
    expect(stages.size).toBeGreaterThan(0);
    // The refs, the commit with its trees, then the sub-directory's files in one fetch (a checkout of the top level
    // before the folder was set fetched the blobs twice: 4 POSTs).
    expect(server.requests.slice(seenBefore).filter((seen) => seen.method === 'POST')).toHaveLength(3);
    expect(result.commit).toBe(commit);
    expect(result.modelDir).toBe(path.join(wanted.destination, 'models', 'churn'));
    expect(readFileSync(path.join(result.modelDir, 'main', 'model.py'), 'utf8')).toContain('model');
    expect(existsSync(path.join(wanted.destination, 'data', 'big.bin'))).toBe(false);
    const gitBytes = filesUnder(path.join(wanted.destination, '.git')).reduce((sum, file) => sum + statSync(file).size, 0);
    expect(gitBytes).toBeLessThan(1 << 20); // the 8 MiB blob was never fetched
    const encoded = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    for (const file of filesUnder(wanted.destination)) {
      const content = readFileSync(file);
      expect(content.includes(TOKEN)).toBe(false);
      expect(content.includes(encoded)).toBe(false);
    }
    expect(readFileSync(path.join(wanted.destination, '.git', 'config'), 'utf8')).not.toMatch(/extraheader|Authorization/i);
    expect(execFileSync('git', ['remote', 'get-url', 'origin'], { cwd: wanted.destination, encoding: 'utf8' }).trim()).toBe(`${server.url}/models.git`);
  });

  /**
   * The git commands cloneRepository starts itself, and every git command started under them: a `git` first on
   * PATH logs each before running the real one, and sets GIT_EXEC_PATH to a copy of git's own folder (links) whose
   * `git` is the same logger, so the commands git starts (fetch, index-pack, maintenance…) are logged too. The git
   * server of this test runs in this process as well: its commands (http-backend and what it starts) are left out.
   */
  async function gitCommandsOf(
    wanted: Parameters<typeof cloneRepository>[0],
  ): Promise<{ commands: string[]; all: string[]; result: Awaited<ReturnType<typeof cloneRepository>> }> {
    const shimDir = mkdtempSync(path.join(work, 'git-shim-'));
    const execDir = path.join(shimDir, 'exec');
    const log = path.join(shimDir, 'log');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    const realExecDir = execFileSync(realGit, ['--exec-path'], { encoding: 'utf8' }).trim();
    mkdirSync(execDir);
    for (const name of readdirSync(realExecDir)) if (name !== 'git') symlinkSync(path.join(realExecDir, name), path.join(execDir, name));
    // One line per command: the parent's pid and the arguments, tab-separated, appended in one write so that the
    // lines of git processes running at once (the server's and the clone's) do not interleave.
    const logger = `#!/bin/sh\nline="$PPID"; for arg in "$@"; do line="$line\t$arg"; done\nprintf '%s\\n' "$line" >> '${log}'\nGIT_EXEC_PATH='${execDir}' exec '${realGit}' "$@"\n`;
    writeFileSync(path.join(shimDir, 'git'), logger, { mode: 0o755 });
    writeFileSync(path.join(execDir, 'git'), logger, { mode: 0o755 });
    const path0 = process.env.PATH;
    process.env.PATH = `${shimDir}:${path0}`;
    try {
      const result = await cloneRepository(wanted);
      const logged = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split('\t'))
        .map(([parent, ...args]) => [parent!, subcommandOf(args)] as const)
        .filter(([, command]) => !SERVER_COMMANDS.has(command));
      const commands = logged.filter(([parent]) => Number(parent) === process.pid).map(([, command]) => command);
      return { commands, all: logged.map(([, command]) => command), result };
    } finally {
      process.env.PATH = path0;
    }
  }
  const SERVER_COMMANDS = new Set(['http-backend', 'upload-pack', 'pack-objects']);
  /** The git command of an argument list: the first word after git's own options (`-c x=y`, `--shallow-file f`…). */
  function subcommandOf(args: string[]): string {
    for (let index = 0; index < args.length; index++) {
      if (['-c', '-C', '--shallow-file', '--git-dir', '--work-tree'].includes(args[index]!)) index++;
      else if (!args[index]!.startsWith('-')) return args[index]!;
    }
    return '';
  }

  it('starts one git command for a folder: the patterns reach the clone through a template, before its checkout', async () => {
    const wanted = request();
    const { commands, all, result } = await gitCommandsOf(wanted);
    expect(commands).toEqual(['clone']);
    // Under it: the clone's fetch, and its checkout's fetch of the folder's files; no `sparse-checkout` (which
    // `clone --sparse` starts) and no `maintenance run --auto` after the checkout's fetch: a build's clone is thrown away.
    expect(all).toEqual(['clone', 'remote-http', 'index-pack', 'fetch', 'remote-http', 'index-pack']);
    expect(result.commit).toBe(commit);
    expect(readdirSync(path.join(result.modelDir, '..'))).toEqual(['churn']);
    expect(readFileSync(path.join(wanted.destination, '.git', 'info', 'sparse-checkout'), 'utf8')).toBe(conePatternsOf('models/churn'));
    // The template is gone, and it brought nothing else into the clone (no sample hooks).
    expect(readdirSync(path.dirname(wanted.destination)).filter((name) => name.startsWith('.clone-template-'))).toEqual([]);
    expect(existsSync(path.join(wanted.destination, '.git', 'hooks'))).toBe(false);
  });

  it('leaves the patterns of a folder name outside the plain set to git', async () => {
    const { commands, result } = await gitCommandsOf(request({ subdirectory: 'models/churn (v2)' }));
    expect(commands).toEqual(['clone', 'sparse-checkout', 'checkout']);
    expect(readFileSync(path.join(result.modelDir, 'main', 'model.py'), 'utf8')).toContain('v2');
    expect(readdirSync(path.join(result.modelDir, '..'))).toEqual(['churn (v2)']);
  });

  it('clones the whole repository when there is no sub-directory, on another branch', async () => {
    const result = await cloneRepository(request({ subdirectory: '', branch: 'release' }));
    expect(existsSync(path.join(result.modelDir, 'data', 'big.bin'))).toBe(true);
  });

  it.each([
    ['a wrong token', { token: 'wrong' }, ErrorTypes.GitAuthenticationFailed, /token in secret "git_token" was refused/],
    ['no token', { token: undefined }, ErrorTypes.GitAuthenticationFailed, /needs credentials/],
    ['an unknown branch', { branch: 'nope' }, ErrorTypes.GitBranchNotFound, /branch "nope" does not exist; check git_branch/],
    ['an unknown repository', { repository: 'REPLACE/absent.git' }, ErrorTypes.GitRepositoryNotFound, /does not exist .*check git_uri/],
    [
      'a missing sub-directory',
      { subdirectory: 'models/absent' },
      ErrorTypes.ModelFolderNotFound,
      /"models\/absent" .* does not exist on branch main at commit/,
    ],
  ])('fails without retry on %s, saying what to fix', async (_what, overrides, type, message) => {
    const wanted = request(overrides as Partial<Parameters<typeof cloneRepository>[0]>);
    if (wanted.repository.startsWith('REPLACE')) wanted.repository = `${server.url}/absent.git`;
    const error = await cloneRepository(wanted).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RefitError);
    expect((error as RefitError).type).toBe(type);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('leaves a server error retryable (a plain error), without the token in it', async () => {
    server.failNext(5, 503);
    const error = await cloneRepository(request()).catch((err: unknown) => err);
    server.failNext(0);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(RefitError);
    expect((error as Error).message).toMatch(/cannot clone/);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('the files a clone writes and reads instead of starting git', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'refit-clone-files-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

  it.each(['models/churn', 'model', 'a/b/c/d', 'team a/model b', 'ünï/kød', 'a,b=c/d~e@f+g.h_i-j'])(
    'writes for "%s" the cone patterns git writes',
    (folder) => {
      const repository = mkdtempSync(path.join(work, 'patterns-'));
      git(repository, 'init', '--quiet');
      git(repository, 'sparse-checkout', 'set', '--cone', folder);
      expect(conePatternsOf(folder)).toBe(readFileSync(path.join(repository, '.git', 'info', 'sparse-checkout'), 'utf8'));
    },
  );

  it.each(['', 'models/churn (v2)', 'models/*', 'a[1]', 'a\\b', 'a?', '!a', '#a', ' a', 'a ', 'a  b', 'a\nb'])('leaves "%s" to git', (folder) => {
    expect(conePatternsOf(folder)).toBeUndefined();
  });

  it('reads the commit of a loose ref, a packed ref and a detached HEAD as git does, and nothing where there is no clone', async () => {
    const repository = mkdtempSync(path.join(work, 'head-'));
    git(repository, 'init', '--quiet', '--initial-branch', 'main');
    writeFileSync(path.join(repository, 'file'), 'one\n');
    git(repository, 'add', 'file');
    git(repository, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-m', 'one');
    const first = git(repository, 'rev-parse', 'HEAD');
    expect(await headCommitOf(repository)).toBe(first);
    git(repository, 'pack-refs', '--all');
    expect(existsSync(path.join(repository, '.git', 'refs', 'heads', 'main'))).toBe(false);
    expect(await headCommitOf(repository)).toBe(first);
    writeFileSync(path.join(repository, 'file'), 'two\n');
    git(repository, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '--quiet', '-am', 'two');
    git(repository, 'checkout', '--quiet', '--detach', first);
    expect(await headCommitOf(repository)).toBe(first);
    expect(await headCommitOf(path.join(work, 'absent'))).toBeUndefined();
  });
});
