// Figure 4: Refit's clone of a model folder (shallow, partial, sparse, through the token-checking git
// server) against a plain full `git clone` of the same repository from the same server.
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cloneRepository, gitEnvironment } from '../../activities/git/cloneRepository.js';
import { generateRepository, type RepositoryShape } from '../clone/generateRepository.js';
import type { FigureResult } from '../lib/report.js';
import type { BenchStack } from '../lib/stack.js';
import { nowMs } from '../lib/stats.js';

const run = promisify(execFile);
const MiB = 2 ** 20;

export interface CloneOptions {
  shape: RepositoryShape;
  repetitions: number;
}

interface CloneTrial {
  ms: number;
  bytes: number;
  gitBytes: number;
  requests: number;
}

export async function cloneFigure(stack: BenchStack, options: CloneOptions): Promise<Omit<FigureResult, 'durationS'>> {
  const workDir = path.join(stack.stateDir, 'clone');
  const generationStarted = nowMs();
  const repository = await generateRepository(stack.git, workDir, 'history', options.shape);
  const generationS = (nowMs() - generationStarted) / 1000;

  const measure = async (destination: string, clone: () => Promise<void>): Promise<CloneTrial> => {
    rmSync(destination, { recursive: true, force: true });
    const requestsBefore = stack.git.requests.length;
    const started = nowMs();
    await clone();
    const ms = nowMs() - started;
    const trial = { ms, bytes: bytesIn(destination), gitBytes: bytesIn(path.join(destination, '.git')), requests: stack.git.requests.length - requestsBefore };
    rmSync(destination, { recursive: true, force: true });
    return trial;
  };
  const refit = () =>
    measure(path.join(workDir, 'refit'), async () => {
      await cloneRepository({
        repository: repository.url,
        subdirectory: repository.subdirectory,
        branch: 'main',
        token: stack.git.token,
        tokenSecretName: 'git_token',
        destination: path.join(workDir, 'refit'),
      });
    });
  const plain = () =>
    measure(path.join(workDir, 'plain'), async () => {
      // The same token, given the same way (an HTTP header through git's environment).
      await run('git', ['clone', '--quiet', '--branch', 'main', repository.url, path.join(workDir, 'plain')], {
        env: gitEnvironment(stack.git.token),
        maxBuffer: 1 << 20,
      });
    });

  const trials = { refit: [] as CloneTrial[], plain: [] as CloneTrial[] };
  for (let rep = 0; rep < options.repetitions; rep++) {
    // Alternating which goes first: the server's page cache then favours neither.
    if (rep % 2 === 0) {
      trials.refit.push(await refit());
      trials.plain.push(await plain());
    } else {
      trials.plain.push(await plain());
      trials.refit.push(await refit());
    }
  }
  const values = (which: CloneTrial[], pick: (trial: CloneTrial) => number) => which.map(pick);
  const plainLabel = 'plain full git clone';
  const { shape } = options;
  return {
    id: 'clone',
    title: '4. Clone',
    method:
      `A generated repository: ${shape.commits} commits, ${shape.largeFiles} files of ${shape.largeFileMiB} MiB (random, incompressible) ` +
      `under data/ rewritten ${shape.largeFileVersions} times over the history (${Math.round(repository.historyBytes / MiB)} MiB of blobs ` +
      `in all), and the tiny model in ${repository.subdirectory}/. Refit's cloneRepository (depth 1, --filter=blob:none, sparse checkout ` +
      `of the model folder) against \`git clone\` of the whole repository, both over HTTP from the token-checking git server with the ` +
      `token as a header; ${options.repetitions} repetitions each, alternating which goes first. Bytes on disk are the clone folder's ` +
      `file sizes (apparent), .git included.`,
    tables: [
      {
        title: 'Time',
        rows: [
          {
            label: "Refit's cloneRepository (shallow, partial, sparse)",
            unit: 'ms',
            values: values(trials.refit, (trial) => trial.ms),
            baseline: { label: plainLabel, values: values(trials.plain, (trial) => trial.ms) },
          },
          { label: plainLabel, unit: 'ms', values: values(trials.plain, (trial) => trial.ms) },
        ],
      },
      {
        title: 'Bytes on disk and HTTP requests (counts, not speeds)',
        rows: [
          {
            label: "Refit's cloneRepository: clone folder",
            unit: 'MiB',
            values: values(trials.refit, (trial) => trial.bytes / MiB),
            baseline: { label: plainLabel, values: values(trials.plain, (trial) => trial.bytes / MiB) },
          },
          { label: `${plainLabel}: clone folder`, unit: 'MiB', values: values(trials.plain, (trial) => trial.bytes / MiB) },
          { label: "Refit's cloneRepository: of which .git", unit: 'MiB', values: values(trials.refit, (trial) => trial.gitBytes / MiB) },
          { label: `${plainLabel}: of which .git`, unit: 'MiB', values: values(trials.plain, (trial) => trial.gitBytes / MiB) },
          {
            label: "Refit's cloneRepository: HTTP requests",
            unit: 'count',
            values: values(trials.refit, (trial) => trial.requests),
            baseline: { label: plainLabel, values: values(trials.plain, (trial) => trial.requests) },
          },
          { label: `${plainLabel}: HTTP requests`, unit: 'count', values: values(trials.plain, (trial) => trial.requests) },
        ],
      },
    ],
    notes: [`Generating the repository and pushing it to the git server took ${generationS.toFixed(1)} s (not part of any figure).`],
  };
}

/** The apparent size of every file under `dir` (symbolic links counted as links). */
function bytesIn(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += bytesIn(full);
    else total += lstatSync(full).size;
  }
  return total;
}
