import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  const sparse = request.subdirectory !== '';
  // A folder's clone is partial (blobs on demand) and sparse in cone mode. Where Refit can write the cone patterns
  // itself they reach the new .git through a template folder before the clone checks out, so the one `git clone` checks
  // out only the folder, fetching its files in one request. A name outside the plain set is left to `git
  // sparse-checkout set` between a clone that checks out nothing and a checkout: two git commands more.
  const patterns = sparse ? conePatternsOf(request.subdirectory) : undefined;
  const template = patterns ? await sparseCloneTemplate(parent, patterns) : undefined;
  const options = [
    '--depth',
    '1',
    '--branch',
    request.branch,
    '--single-branch',
    ...(sparse ? ['--filter=blob:none', '--config', 'core.sparseCheckout=true', '--config', 'core.sparseCheckoutCone=true'] : []),
    ...(template ? [`--template=${template}`] : sparse ? ['--no-checkout'] : []),
  ];
  try {
    await gitWith(parent, request, { templateDir: template !== undefined }).clone(request.repository, request.destination, options);
    const inClone = gitWith(request.destination, request);
    if (sparse && !patterns) {
      await inClone.raw(['sparse-checkout', 'set', request.subdirectory]);
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
  } finally {
    if (template) await rm(template, { recursive: true, force: true });
  }
}

/**
 * A template folder for `git clone --template` holding nothing but the cone patterns, where `git sparse-checkout set`
 * would write them (so the clone gets none of git's sample hooks either). Made beside the clone, removed after it.
 */
async function sparseCloneTemplate(parent: string, patterns: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  const template = await mkdtemp(path.join(parent, '.clone-template-'));
  await mkdir(path.join(template, 'info'));
  await writeFile(path.join(template, 'info', 'sparse-checkout'), patterns);
  return template;
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

function gitWith(baseDir: string, request: CloneRequest, allow: { templateDir?: boolean } = {}): SimpleGit {
  const env = gitEnvironment(request.token);
  const git = simpleGit({
    baseDir,
    allowEnvironment: Object.keys(env).filter((key) => key.startsWith('GIT_')),
    progress: request.onProgress ? ({ stage, progress }) => request.onProgress!({ stage, percent: progress }) : undefined,
    // simple-git guards against configuration smuggled in through options; ours is built here, on
    // purpose: the header through GIT_CONFIG_* and an emptied credential helper; and, for a folder's clone, the
    // template folder Refit made with the cone patterns alone.
    unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeCredentialHelper: true, allowUnsafeTemplateDir: allow.templateDir === true },
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
