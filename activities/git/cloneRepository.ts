import { existsSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { baseEnvironment } from '../process/baseEnvironment.js';
import { conePatternsOf, headCommitOf } from './cloneFiles.js';

export interface CloneRequest {
  /** What `git clone` receives (the part of git_uri before "#"). */
  repository: string;
  /** Folder inside the repository to work in ("" for the root). */
  subdirectory: string;
  branch: string;
  /** Access token, sent as an HTTP header through git's environment: never in a URL, argv or file. */
  token?: string;
  /** The secret's name, for messages. */
  tokenSecretName?: string;
  /** An empty or absent folder for the clone (it is emptied first, so a retry starts clean). */
  destination: string;
  onProgress?: (progress: { stage: string; percent: number }) => void;
}

export interface CloneResult {
  commit: string;
  /** destination + subdirectory. */
  modelDir: string;
}

/**
 * Shallow (one commit) clone of one branch; for a sub-directory also partial (no file contents fetched
 * until needed) and sparse (only that folder checked out), so a large repository costs little.
 */
export async function cloneRepository(request: CloneRequest): Promise<CloneResult> {
  await rm(request.destination, { recursive: true, force: true });
  const parent = path.dirname(request.destination);
  const git = gitWith(parent, request);
  const sparse = request.subdirectory !== '';
  // A sparse clone checks out nothing until the folder is set: the checkout then fetches the blobs it needs in one
  // request, where a checkout of the top level first would fetch twice. Sparse checkout in cone mode is set in the
  // clone's configuration as it is made, as `--sparse` would, without the `sparse-checkout` command `--sparse` starts.
  const options = [
    '--depth',
    '1',
    '--branch',
    request.branch,
    '--single-branch',
    ...(sparse ? ['--filter=blob:none', '--no-checkout', '--config', 'core.sparseCheckout=true', '--config', 'core.sparseCheckoutCone=true'] : []),
  ];
  try {
    await git.clone(request.repository, request.destination, options);
    const inClone = gitWith(request.destination, request);
    if (sparse) {
      // The folder's cone patterns, where `git sparse-checkout set` would write them.
      const patterns = conePatternsOf(request.subdirectory);
      if (patterns) {
        const infoDir = path.join(request.destination, '.git', 'info');
        await mkdir(infoDir, { recursive: true });
        await writeFile(path.join(infoDir, 'sparse-checkout'), patterns);
      } else await inClone.raw(['sparse-checkout', 'set', request.subdirectory]);
      // No "--" after the branch: with a progress handler simple-git appends --progress, which must stay an option.
      await inClone.raw(['checkout', '--quiet', request.branch]);
    }
    const commit = (await headCommitOf(request.destination)) ?? (await inClone.revparse(['HEAD'])).trim();
    const modelDir = path.join(request.destination, request.subdirectory);
    if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
      throw new RefitError(
        ErrorTypes.ModelFolderNotFound,
        `the folder "${request.subdirectory}" (after "#" in git_uri) does not exist on branch ${request.branch} at commit ${commit.slice(0, 12)} of ${request.repository}`,
      );
    }
    return { commit, modelDir };
  } catch (err) {
    throw classifyGitError(err, request);
  }
}

/** The commit `branch` points at on the remote now (`git ls-remote`), without cloning anything. */
export async function remoteHead(request: Omit<CloneRequest, 'destination' | 'subdirectory'>): Promise<string> {
  const asClone: CloneRequest = { ...request, subdirectory: '', destination: '' };
  try {
    const output = await gitWith(process.cwd(), asClone).listRemote(['--heads', request.repository, `refs/heads/${request.branch}`]);
    const commit = output
      .split('\n')
      .find((line) => line.endsWith(`refs/heads/${request.branch}`))
      ?.split('\t')[0];
    if (!commit)
      throw new RefitError(ErrorTypes.GitBranchNotFound, `cannot read ${request.repository}: the branch "${request.branch}" does not exist; check git_branch`);
    return commit;
  } catch (err) {
    throw classifyGitError(err, asClone);
  }
}

function gitWith(baseDir: string, request: CloneRequest): SimpleGit {
  const env = gitEnvironment(request.token);
  const git = simpleGit({
    baseDir,
    allowEnvironment: Object.keys(env).filter((key) => key.startsWith('GIT_')),
    progress: request.onProgress ? ({ stage, progress }) => request.onProgress!({ stage, percent: progress }) : undefined,
    // simple-git guards against configuration smuggled in through options; ours is built here, on
    // purpose: the header through GIT_CONFIG_* and an emptied credential helper.
    unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeCredentialHelper: true },
  });
  return git.env(env);
}

/**
 * The token reaches git as an extra HTTP header set through GIT_CONFIG_* variables: they apply to this
 * process only and are never written to .git/config, argv (visible in `ps`) or a URL. Credential
 * helpers and prompts are switched off so that a missing or wrong token fails at once.
 */
export function gitEnvironment(token: string | undefined): Record<string, string> {
  const env = baseEnvironment();
  // A clone is made for one build and removed with it: the `git maintenance run --auto` a fetch starts after it (the
  // checkout's fetch of a sparse clone's files) would never find anything worth doing.
  const config: [string, string][] = [
    ['credential.helper', ''],
    ['maintenance.auto', 'false'],
  ];
  if (token) config.push(['http.extraHeader', gitAuthorizationHeader(token)]);
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return env;
}

/** The header git sends the token in (the git hosts' convention for tokens: user x-access-token). */
export function gitAuthorizationHeader(token: string): string {
  return `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
}

/** Hides a token (and the header built from it) wherever it might appear in a message. */
export function scrubToken(text: string, token: string | undefined): string {
  if (!token) return text;
  const forms = [token, Buffer.from(`x-access-token:${token}`).toString('base64'), encodeURIComponent(token)];
  return forms.reduce((scrubbed, form) => scrubbed.split(form).join('***'), text);
}

function classifyGitError(err: unknown, request: CloneRequest): Error {
  if (err instanceof RefitError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const message = scrubToken(raw, request.token).trim();
  const where = `${request.repository} (branch ${request.branch})`;
  if (
    /Authentication failed|could not read Username|terminal prompts disabled|Invalid username or password|returned error: 40[13]|HTTP 40[13]/i.test(message)
  ) {
    const fix = request.token
      ? `the token in secret "${request.tokenSecretName}" was refused: check it has read access and set it again with \`refit secrets set ${request.tokenSecretName}\``
      : 'the repository needs credentials: store a token with `refit secrets set <name>` and name it in git_access_token_secret';
    return new RefitError(ErrorTypes.GitAuthenticationFailed, `cannot clone ${where}: ${fix}`);
  }
  if (/Remote branch .* not found|couldn't find remote ref/i.test(message)) {
    return new RefitError(ErrorTypes.GitBranchNotFound, `cannot clone ${where}: the branch "${request.branch}" does not exist; check git_branch`);
  }
  if (/repository .* not found|does not appear to be a git repository|returned error: 404|HTTP 404|not found/i.test(message)) {
    return new RefitError(ErrorTypes.GitRepositoryNotFound, `cannot clone ${where}: the repository does not exist (or the token cannot see it); check git_uri`);
  }
  // Anything else (server errors, timeouts, refused connections) may pass: the activity retries it.
  return new Error(`cannot clone ${where}: ${lastLines(message)}`);
}

function lastLines(text: string): string {
  return text.split('\n').filter(Boolean).slice(-3).join(' / ');
}
