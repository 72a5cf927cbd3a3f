// The build Job's clone container, run for real: its script under bubblewrap (its own /workspace and /dev, as in
// the pod) with the environment the Job gives it, against the token-checking git server. The same container runs
// on the real node in test/kubernetes/jobBuild.test.ts; here the bytes it fetches are measured.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildJob, CLONE_SCRIPT, podModelDir, type BuildJobRequest, type JobBuildSettings } from '../../activities/build/kubernetes/buildJob.js';
import { gitAuthorizationHeader } from '../../activities/git/cloneRepository.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { validateAutomation } from '../../spec/validate.js';

const TOKEN = 'clone-script-token-7d41c9';
const BIG_FILE_BYTES = 4 << 20;

const settings: JobBuildSettings = {
  namespace: 'builds',
  runtimeImage: 'registry.example/refit/python:1',
  imageRepository: 'registry.example/models',
  pipIndexUrl: 'http://10.0.0.1:3141/simple',
  insecureRegistry: false,
  ttlSecondsAfterFinished: 3600,
  gpuNodeLabel: 'nvidia.com/gpu.product',
  instanceNodeLabel: 'node.kubernetes.io/instance-type',
};

function bytesUnder(folder: string): number {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(path.join(entry.parentPath, entry.name)).size, 0);
}

describe("the build Job's clone container", () => {
  let server: GitServer;
  let work: string;
  let commit: string;
  beforeAll(async () => {
    server = await startGitServer(TOKEN);
    work = mkdtempSync(path.join(os.tmpdir(), 'refit-clone-script-'));
    const source = path.join(work, 'source');
    mkdirSync(path.join(source, 'models', 'churn', 'main'), { recursive: true });
    mkdirSync(path.join(source, 'models', 'other'), { recursive: true });
    mkdirSync(path.join(source, 'data'), { recursive: true });
    writeFileSync(path.join(source, 'models', 'churn', 'main', 'model.py'), 'print("model")\n');
    writeFileSync(path.join(source, 'models', 'other', 'notes.txt'), 'not this model\n');
    writeFileSync(path.join(source, 'README.md'), '# models\n');
    // Random bytes, so no compression hides whether the pod fetched it.
    writeFileSync(path.join(source, 'data', 'big.bin'), randomBytes(BIG_FILE_BYTES));
    commit = await server.publish('models', source);
  });
  afterAll(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Runs the clone container's command as the pod would; returns what it left in /workspace and how it exited. */
  async function runClone(subdirectory: string | undefined, token = TOKEN) {
    const request = requestFor(`${server.url}/models.git`, subdirectory, commit);
    const container = buildJob(request, settings).spec!.template.spec!.initContainers!.find((each) => each.name === 'clone')!;
    expect(container.command).toEqual(['sh', '-c', CLONE_SCRIPT]);
    const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
    for (const variable of container.env!) {
      // The one value from the build's Secret is the git header.
      env[variable.name] = variable.valueFrom ? gitAuthorizationHeader(token) : variable.value!;
    }
    const workspace = mkdtempSync(path.join(work, 'workspace-'));
    // Not spawnSync: the git server answers from this process's event loop.
    const child = spawn(
      'bwrap',
      [
        ...['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib'],
        ...['--symlink', 'usr/lib64', '/lib64', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--bind', workspace, '/workspace'],
        ...['--', ...container.command!],
      ],
      { env },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { workspace, src: path.join(workspace, 'src'), status, stderr, stdout };
  }

  it("fetches only the model folder's files for a model in a folder, and not the repository's other blobs", async () => {
    const clone = await runClone('models/churn');
    expect(clone.stderr).toBe('');
    expect(clone.status).toBe(0);
    expect(clone.stdout).toContain(`at ${commit}`);
    expect(existsSync(path.join(clone.src, 'models', 'churn', 'main', 'model.py'))).toBe(true);
    expect(existsSync(path.join(clone.src, 'README.md'))).toBe(true);
    expect(existsSync(path.join(clone.src, 'models', 'other'))).toBe(false);
    expect(existsSync(path.join(clone.src, 'data'))).toBe(false);
    // The commit's trees and the folder's blobs: a few KiB, where the big file alone is 4 MiB.
    expect(bytesUnder(path.join(clone.src, '.git'))).toBeLessThan(BIG_FILE_BYTES / 8);
    expect(podModelDir('models/churn')).toBe('/workspace/src/models/churn');
  });

  it('fetches the whole commit for a model at the root of the repository', async () => {
    const clone = await runClone(undefined);
    expect(clone.status).toBe(0);
    expect(statSync(path.join(clone.src, 'data', 'big.bin')).size).toBe(BIG_FILE_BYTES);
    expect(existsSync(path.join(clone.src, 'models', 'other', 'notes.txt'))).toBe(true);
  });

  it('fails with a message naming the commit and the repository when the token is refused', async () => {
    const requestsBefore = server.requests.length;
    const clone = await runClone('models/churn', 'not-the-token');
    expect(clone.status).toBe(1);
    expect(clone.stderr).toContain(`git could not fetch commit ${commit} from ${server.url}/models.git`);
    expect(server.requests.slice(requestsBefore).some((request) => !request.authorized)).toBe(true);
    expect(existsSync(path.join(clone.src, 'models'))).toBe(false);
  });
});

function requestFor(repository: string, subdirectory: string | undefined, commit: string): BuildJobRequest {
  const validated = validateAutomation({
    name: 'churn-automation',
    model_id: 'churn_model',
    trigger: { type: 'NoneTrigger' },
    action: {
      build_spec: { git_uri: `${repository}${subdirectory ? `#${subdirectory}` : ''}`, git_access_token_secret: 'git_token' },
    },
  });
  if (!validated.ok) throw new Error(JSON.stringify(validated.errors));
  return {
    buildId: 'churn_model-0193-aa',
    automation: 'churn-automation',
    modelId: 'churn_model',
    repository,
    subdirectory,
    commit,
    spec: validated.automation.action.build_spec,
    withToken: true,
    timeoutSeconds: 600,
  };
}
