// `refit init [dir] [--model]`: a first automation that validates and runs. Without --model it builds the example
// model from `refit dev`'s git server; with --model it also writes a model folder (main/ and tests/, the example
// model as a start) in a local git repository, which the automation names as a file:// repository.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEV_GIT_SECRET, devGitRepository, EXAMPLE_MODEL_FOLDER } from '../../platform/devStackRecord.js';
import { packageRoot } from '../../platform/paths.js';
import { loadDefinitions } from '../../spec/loader.js';
import { toYaml } from '../../spec/yaml.js';
import { EXIT, paint } from '../output.js';
import { printLoadProblems } from './validate.js';

const run = promisify(execFile);

export async function initCommand(dir: string | undefined, options: { model?: boolean; name?: string }): Promise<number> {
  const root = path.resolve(dir ?? '.');
  const base =
    path
      .basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'model';
  const modelId = options.model ? base : 'breast-cancer';
  const name = options.name ?? `retrain-${modelId}`;
  const file = path.join(root, `${name}.yaml`);
  const modelDir = path.join(root, 'model');
  const taken = [file, ...(options.model ? [modelDir] : [])].filter((entry) => existsSync(entry));
  if (taken.length) {
    console.error(`refit: ${taken.join(' and ')} already exist${taken.length === 1 ? 's' : ''}: init writes only new files (choose another folder or --name)`);
    return EXIT.failed;
  }
  mkdirSync(root, { recursive: true });
  let gitUri = `${devGitRepository()}#${EXAMPLE_MODEL_FOLDER}`;
  if (options.model) {
    cpSync(path.join(packageRoot(), 'examples', 'model-repo', EXAMPLE_MODEL_FOLDER), modelDir, {
      recursive: true,
      filter: (source) => !source.includes('__pycache__'),
    });
    await commitModel(root);
    gitUri = `file://${root}#model`;
  }
  const automation = {
    name,
    model_id: modelId,
    trigger: { type: 'ScheduledTrigger', cron: '0 3 * * 1' },
    action: {
      type: 'BuildDeploy',
      build_spec: { git_uri: gitUri, ...(options.model ? {} : { git_access_token_secret: DEV_GIT_SECRET }), git_branch: 'main' },
      deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
      deployment_spec: { number_of_pods: 1, cpu_fraction: 1, memory: '1Gi' },
    },
  };
  const header = options.model
    ? `# Builds ./model (a git repository: commit to change what builds) every Monday at 03:00 UTC.\n# The worker must allow file:// repositories (REFIT_GIT_ALLOW_FILE=1; \`refit dev\` does).\n`
    : `# Builds the example model from \`refit dev\`'s git server every Monday at 03:00 UTC (its token: the secret ${DEV_GIT_SECRET}).\n`;
  writeFileSync(file, `${header}${toYaml(automation)}`);
  const loaded = await loadDefinitions([file]);
  if (loaded.errors.length) {
    printLoadProblems(loaded);
    return EXIT.failed;
  }
  console.log(
    `${paint('green', 'wrote')} ${path.relative(process.cwd(), file) || file}${options.model ? ` and ${path.relative(process.cwd(), modelDir) || modelDir}/ (main/, tests/)` : ''}`,
  );
  console.log(`next: with \`refit dev\` running, \`refit register ${path.relative(process.cwd(), file) || file}\` and \`refit run ${name} --wait\``);
  return EXIT.ok;
}

/** The model folder as a commit on `main` of a repository at `root` (made when there is none). */
async function commitModel(root: string): Promise<void> {
  const identity = {
    GIT_AUTHOR_NAME: 'refit init',
    GIT_AUTHOR_EMAIL: 'refit@localhost',
    GIT_COMMITTER_NAME: 'refit init',
    GIT_COMMITTER_EMAIL: 'refit@localhost',
  };
  const git = (...args: string[]) => run('git', args, { cwd: root, env: { ...process.env, ...identity } });
  if (!existsSync(path.join(root, '.git'))) await git('init', '--quiet', '--initial-branch=main');
  await git('add', 'model');
  await git('commit', '--quiet', '-m', 'refit init: the model folder');
}
