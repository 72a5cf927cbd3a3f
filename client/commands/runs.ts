import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '../temporalClient.js';
import { refitHome } from '../../platform/paths.js';
import type { BuildDeployResult, RunStatus } from '../../shared/runTypes.js';
import { QueryNames } from '../../shared/names.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { progress, relativeTime, table, when, withRefitClient } from '../cliContext.js';
import { EXIT, paint, readableNumbers } from '../output.js';
import { RunRefusedError, type RefitClient } from '../refitClient.js';
import { definitionFiles } from './definitionFiles.js';

const STEP_WORDS: Record<RunStatus['step'], string> = {
  starting: 'starting',
  cloning: 'cloning the repository',
  building: 'building (dependencies, tests, training)',
  collecting_metrics: "reading the build's metrics",
  checking_condition: 'checking the deployment condition',
  awaiting_approval: 'waiting for approval (refit approve / refit reject)',
  waiting_for_promotion: 'waiting for another run of this model to finish deploying',
  deploying: 'deploying',
  canary: 'canary rollout (traffic shifts step by step, guard checked after each)',
  rolling_back: 'rolling back',
  notifying: 'sending notifications',
  finished: 'finished',
  failed: 'failed',
};

/** The step a run's error names ("building failed: …" → building), if it names one. */
function stepOfError(error: string | undefined): RunStatus['step'] | undefined {
  const named = /^([a-z ]+) failed: /.exec(error ?? '')?.[1]?.replace(/ /g, '_');
  return named && named in STEP_WORDS && named !== 'failed' ? (named as RunStatus['step']) : undefined;
}

/**
 * `refit run <automation>` starts a run of a registered automation now; `--file` runs a definition from a
 * file without registering it. With --wait it follows the run step by step and exits 0 when the run
 * finished (deployed or not; --expect-deploy makes "not deployed" exit 10), 1 when it failed.
 */
export async function runCommand(
  name: string,
  options: { wait?: boolean; json?: boolean; file?: string; expectDeploy?: boolean; force?: boolean },
): Promise<number> {
  let definition: AutomationModel | undefined;
  if (options.file) {
    const { loadDefinitions, printLoadProblems } = await definitionFiles();
    const loaded = await loadDefinitions([options.file]);
    definition = loaded.automations.find((entry) => entry.automation.name === name)?.automation;
    if (loaded.errors.length || !definition) {
      printLoadProblems(loaded);
      if (!definition) console.error(`refit: ${options.file} defines no valid automation "${name}"`);
      return EXIT.failed;
    }
  }
  return withRefitClient(async (refit) => {
    let handle: WorkflowHandle & { firstExecutionRunId: string };
    try {
      handle = definition
        ? await refit.runDefinition(definition)
        : await refit.run(name, {
            force: options.force,
            onWait: (running) => console.error(`waiting for ${running.join(', ')} to finish first (the overlap policy buffers runs)`),
          });
    } catch (err) {
      if (!(err instanceof RunRefusedError)) throw err;
      console.error(`refit: ${err.message}`);
      return EXIT.failed;
    }
    if (!options.wait) {
      if (options.json) console.log(JSON.stringify({ workflow_id: handle.workflowId, run_id: handle.firstExecutionRunId }));
      else console.log(`started ${handle.workflowId}; follow it with \`refit history ${name}\` or in the Temporal Web UI`);
      return;
    }
    return follow(refit, handle, options);
  });
}

async function follow(refit: RefitClient, handle: WorkflowHandle, options: { json?: boolean; expectDeploy?: boolean }): Promise<number> {
  const started = Date.now();
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  // One spinner (or line, off a terminal) per step: it turns into a tick with its time when the next begins.
  let step: RunStatus['step'] = 'starting';
  let stepStarted = started;
  let spinner = options.json ? undefined : progress(`${handle.workflowId}: starting`);
  const finishStep = () => spinner?.succeed(`${STEP_WORDS[step]} (${seconds(stepStarted)})`);
  let result: BuildDeployResult;
  try {
    result = await refit.follow(handle, (status) => {
      if (options.json || status.step === step) return;
      finishStep();
      step = status.step;
      stepStarted = Date.now();
      spinner = ['finished', 'failed'].includes(step) ? undefined : progress(`${STEP_WORDS[step]}… (build ${status.build_id})`);
    });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const message = err.cause?.message ?? err.message;
    // The step that failed, as the run recorded it: polling may have missed it (a fast step) or seen only "failed".
    const final = await handle.query<RunStatus>(QueryNames.status).catch(() => undefined);
    const failedStep = stepOfError(final?.error) ?? step;
    if (!options.json) {
      if (failedStep !== step) finishStep();
      const label = STEP_WORDS[failedStep];
      (failedStep === step && spinner ? spinner : progress(`${label}…`)).fail(`${label}: failed`);
    }
    if (options.json) console.log(JSON.stringify({ status: 'failed', deployed: false, reason: message, workflow_id: handle.workflowId }, null, 2));
    else {
      console.error(paint('red', `run failed after ${seconds(started)}: ${message}`, process.stderr));
      if (final?.build_id && failedStep === 'building') console.error(`the build's log: refit logs ${final.build_id}`);
    }
    return EXIT.failed;
  }
  finishStep();
  if (options.json) {
    console.log(JSON.stringify({ status: 'completed', workflow_id: handle.workflowId, ...result }, null, 2));
  } else {
    console.log(`${result.deployed ? paint('green', 'deployed') : paint('yellow', 'not deployed')} in ${seconds(started)}: ${readableNumbers(result.reason)}`);
    for (const deployment of result.deployments) if (deployment.url) console.log(`  serving at ${deployment.url}/v2/models/${result.model_id}/infer`);
  }
  return options.expectDeploy && !result.deployed ? 10 : EXIT.ok;
}

export async function historyCommand(name: string | undefined, options: { limit?: number; json?: boolean; output?: string }): Promise<number> {
  const limit = options.limit ?? 20;
  return withRefitClient(async (refit) => {
    const runs = await refit.history(name, limit);
    if (options.json) {
      console.log(JSON.stringify(runs, null, 2));
      return;
    }
    if (!runs.length) {
      console.log(name ? `no runs of ${name} yet` : 'no runs yet');
      return;
    }
    console.log(
      table(
        ['started', 'automation', 'build', 'commit', 'status', 'deployed', 'why'],
        runs.map((run) => [
          options.output === 'wide' ? when(run.startedAt) : relativeTime(run.startedAt),
          `${run.automation ?? ''}${run.kind === 'rollback' ? ' (rollback)' : ''}`,
          run.buildId ?? '',
          run.commit?.slice(0, 10) ?? '',
          run.status,
          run.approval === 'pending' && run.status === 'RUNNING'
            ? paint('yellow', 'awaiting approval')
            : run.deployed === undefined
              ? ''
              : run.deployed
                ? paint('green', 'yes')
                : 'no',
          options.output === 'wide' ? (run.reason ?? '') : clip(readableNumbers(run.reason ?? ''), 100),
        ]),
        { wide: options.output === 'wide' },
      ),
    );
  });
}

/** Where a build's log is on this machine: under $REFIT_HOME/builds, or the demo's home ($REFIT_HOME/demo). */
function buildLogFile(buildId: string): string | undefined {
  return [refitHome(), path.join(refitHome(), 'demo')].map((home) => path.join(home, 'builds', buildId, 'build.log')).find((file) => existsSync(file));
}

/**
 * `refit logs <build|automation>`: a build's log, or the latest build's of an automation. Build logs stay on the
 * machine of the worker that built them, under $REFIT_HOME/builds.
 */
export async function logsCommand(target: string): Promise<number> {
  const direct = buildLogFile(target);
  if (direct) {
    process.stdout.write(readFileSync(direct, 'utf8'));
    return EXIT.ok;
  }
  // Not a build here: an automation's name, whose latest build the run history knows.
  let buildId: string | undefined;
  const code = await withRefitClient(async (refit) => {
    const runs = await refit.history(target, 20).catch(() => []);
    buildId = runs.find((run) => run.kind === 'build' && run.buildId)?.buildId;
  });
  if (code !== EXIT.ok && code !== EXIT.unavailable) return code;
  const file = buildId ? buildLogFile(buildId) : undefined;
  if (file) {
    console.error(paint('dim', `the latest build of ${target}: ${buildId}`, process.stderr));
    process.stdout.write(readFileSync(file, 'utf8'));
    return EXIT.ok;
  }
  console.error(
    buildId
      ? `refit: the latest build of ${target} is ${buildId}, and its log is not on this machine (${path.join(refitHome(), 'builds', buildId, 'build.log')}); a build's log stays on the machine of the worker that built it`
      : `refit: no build log of ${target} on this machine (${path.join(refitHome(), 'builds', target, 'build.log')}), and no automation of that name has a build${code === EXIT.unavailable ? ' that Temporal could tell of (it could not be reached)' : ''}; a build's log stays on the machine of the worker that built it`,
  );
  return EXIT.failed;
}

/** `refit undeploy <automation|model>`: stops what serves, and says what it stopped. */
export async function undeployCommand(target: string, options: { variation?: string; environment?: string[]; by?: string; json?: boolean }): Promise<number> {
  return withRefitClient(async (refit) => {
    const result = await refit.undeploy(target, { variation: options.variation, environments: options.environment, by: whoActs(options.by) });
    if (options.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const where = (environment: string) => (environment ? `environment ${environment}` : 'the default environment');
    for (const entry of result.stopped)
      console.log(`stopped variation ${entry.variation} of ${result.model_id} (build ${entry.build_id}) in ${where(entry.environment)}`);
    if (!result.stopped.length) {
      const what = options.variation ? `variation ${options.variation} of ${result.model_id}` : result.model_id;
      console.error(
        `refit: nothing of ${what} serves in ${result.nothing_in.map(where).join(', ')}${result.automation ? '' : ` (and no automation is named ${target}: give a model id or an automation)`}`,
      );
      return EXIT.failed;
    }
    for (const environment of result.nothing_in) console.log(`nothing served in ${where(environment)}`);
    if (result.automation) console.log(`its schedule still runs: the next deploying run serves it again (\`refit pause ${result.automation}\` stops that)`);
  });
}

/** Who a decision or rollback is recorded as: --by, else $REFIT_USER, else the operating-system user. */
export function whoActs(by: string | undefined): string {
  if (by) return by;
  if (process.env.REFIT_USER) return process.env.REFIT_USER;
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** `refit approve|reject <run|automation>`: the decision, who took it and why go into the run's result. */
export async function decideCommand(target: string, approve: boolean, options: { by?: string; reason?: string }): Promise<number> {
  if (!approve && !options.reason) {
    console.error('refit: say why with --reason: it is recorded in the run');
    return EXIT.usage;
  }
  const by = whoActs(options.by);
  return withRefitClient(async (refit) => {
    try {
      const { workflowId, record } = await refit.decide(target, { approve, by, reason: options.reason });
      console.log(`${approve ? 'approved' : 'rejected'} ${workflowId} (by ${record.by}${record.reason ? `: ${record.reason}` : ''})`);
    } catch (err) {
      const message = (err as Error).message;
      console.error(`refit: ${/not found/i.test(message) ? `no run "${target}" and no run of an automation "${target}" waits for approval` : message}`);
      return EXIT.failed;
    }
  });
}

export async function rollbackCommand(name: string, options: { to?: string; by?: string; reason?: string; json?: boolean }): Promise<number> {
  const by = whoActs(options.by);
  return withRefitClient(async (refit) => {
    try {
      const result = await refit.rollback(name, { toBuildId: options.to, by, reason: options.reason });
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else
        for (const entry of result.rolled_back)
          console.log(
            `rolled back ${name}: variation ${entry.variation}${entry.environment ? ` in ${entry.environment}` : ''} serves ${entry.to} again (was ${entry.from})`,
          );
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      console.error(`refit: ${err.cause?.message ?? err.message}`);
      return EXIT.failed;
    }
  });
}
