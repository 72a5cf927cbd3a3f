#!/usr/bin/env node
// The `refit` command line. Exit codes: 0 done, 1 the command found problems or a run failed,
// 2 the command line was wrong, 3 Temporal could not be reached, 10 `run --wait --expect-deploy` did not deploy.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { packageRoot } from '../platform/paths.js';
import { EXIT } from './output.js';

// Each command loads only what it uses (a Kubernetes client, the Temporal client, DuckDB): `refit validate`
// and `refit schema` start without any of them.
const automations = () => import('./commands/automations.js');
const runs = () => import('./commands/runs.js');
const secretCommands = () => import('./commands/secrets.js');

const program = new Command()
  .name('refit')
  .description(
    'Re-train and re-deploy ML models automatically, durably, on Temporal.\nConnects with the standard Temporal settings: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.',
  )
  .version((JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version, '-V, --version')
  .showHelpAfterError()
  .exitOverride();

/** `-o wide`: every column whole, times as dates (the default fits the terminal, times relative). */
function wideOption(): Option {
  return new Option('-o, --output <format>', 'wide: whole columns and absolute times').choices(['wide']);
}

/** A whole number from 1 to `max` for `option`, or a usage error naming it. */
function count(option: string, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < 1 || number > max)
      throw new InvalidArgumentError(`${option} takes a whole number from 1 to ${max}, not "${value}"`);
    return number;
  };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

const set = async (code: Promise<number> | number): Promise<void> => {
  process.exitCode = await code;
};

program
  .command('validate')
  .description('check automation definitions (YAML or TypeScript files, or folders of them) and summarise each')
  .argument('<paths...>', 'files or folders')
  .option('--json', 'print the result as JSON')
  .option('--allow-code', 'also run the TypeScript/JavaScript definition files found in folders (a folder loads YAML only)')
  .action(async (paths: string[], options) => set((await import('./commands/validate.js')).validateCommand(paths, options)));

program
  .command('init')
  .description("write a first automation that validates and runs: the example model from refit dev's git server, or with --model your own model folder")
  .argument('[dir]', 'where to write it (default: here)')
  .option('--model', 'also write a model folder (main/ and tests/, the example model as a start) in a local git repository')
  .option('--name <automation>', "the automation's name (default retrain-<model>)")
  .action(async (dir: string | undefined, options) => set((await import('./commands/init.js')).initCommand(dir, options)));

program
  .command('schema')
  .description('print the JSON Schema of an automation definition (for YAML completion in editors)')
  .action(async () => console.log(JSON.stringify((await import('../spec/jsonSchema.js')).automationJsonSchema(), null, 2)));

program
  .command('register')
  .description('create or update one Temporal Schedule per automation (registering unchanged definitions changes nothing)')
  .argument('<paths...>', 'files or folders of definitions')
  .option('--prune', 'delete the schedules of automations that are no longer defined')
  .option('--json', 'print what changed as JSON')
  .option('--allow-code', 'also run the TypeScript/JavaScript definition files found in folders (a folder loads YAML only)')
  .action(async (paths: string[], options) => set((await automations()).registerCommand(paths, options)));

program
  .command('plan')
  .description('show what register would change (a diff per schedule), and with --run what a run would do now; changes nothing')
  .argument('<paths...>', 'files or folders of definitions')
  .option('--prune', 'also show the schedules register --prune would delete')
  .option('--run', 'ask a worker what a run would do now: the commit, the threshold and its value, the deploy')
  .option('--json', 'as JSON')
  .option('--allow-code', 'also run the TypeScript/JavaScript definition files found in folders (a folder loads YAML only)')
  .action(async (paths: string[], options) => set((await import('./commands/plan.js')).planCommand(paths, options)));

program
  .command('list')
  .description('list registered automations, their trigger, state and next run')
  .option('--json', 'as JSON')
  .addOption(wideOption())
  .action(async (options) => set((await automations()).listCommand(options)));

program
  .command('describe')
  .description(
    'show what is registered for an automation: trigger, policies, next and recent runs, definition;\nwith --manifests, print the Kubernetes objects a deploy of the definitions in files or folders would apply (no cluster needed)',
  )
  .argument('<automation...>', 'an automation; with --manifests, files or folders of definitions')
  .option('--json', 'as JSON')
  .option('--manifests', 'print, as YAML, the Kubernetes objects a deploy would apply, without a cluster and without applying anything')
  .option('--allow-code', 'also run the TypeScript/JavaScript definition files found in folders (a folder loads YAML only)')
  .action(async (names: string[], options, command: Command) => {
    if (options.manifests) return set((await import('./commands/manifests.js')).manifestsCommand(names, options));
    if (names.length > 1) command.error(`error: describe takes one automation (files and folders only with --manifests)`);
    return set((await automations()).describeCommand(names[0]!, options));
  });

program
  .command('run')
  .description('start a run of an automation now')
  .argument('<automation>')
  .option('--wait', 'follow the run step by step until it ends')
  .option('--json', 'print the result (or the started run) as JSON')
  .option('--file <file>', 'run the definition in this file instead of the registered one')
  .option('--expect-deploy', 'with --wait: exit 10 when the run finishes without deploying')
  .option('--force', "start the run even while another runs, whatever the automation's overlap policy says")
  .action(async (name: string, options) => set((await runs()).runCommand(name, options)));

program
  .command('pause')
  .description("stop an automation's schedule from starting runs")
  .argument('<automation>')
  .option('--note <text>', 'why (shown by describe and in the Web UI)')
  .action(async (name: string, options) => set((await automations()).pauseCommand(name, options)));

program
  .command('resume')
  .description("let a paused automation's schedule start runs again")
  .argument('<automation>')
  .option('--note <text>', 'why')
  .action(async (name: string, options) => set((await automations()).resumeCommand(name, options)));

program
  .command('delete')
  .description("delete an automation's schedule")
  .argument('<automation>')
  .action(async (name: string) => set((await automations()).deleteCommand(name)));

program
  .command('backfill')
  .description("start the runs an automation's schedule would have started in a past time range")
  .argument('<automation>')
  .requiredOption('--start <time>', 'ISO 8601, e.g. 2026-11-01T00:00:00Z')
  .requiredOption('--end <time>', 'ISO 8601')
  .action(async (name: string, options) => set((await automations()).backfillCommand(name, options)));

program
  .command('history')
  .description('recent runs with their build, commit, decision and deployment')
  .argument('[automation]')
  .option('--limit <n>', 'how many (1-1000)', count('--limit', 1000), 20)
  .option('--json', 'as JSON')
  .addOption(wideOption())
  .action(async (name: string | undefined, options) => set((await runs()).historyCommand(name, options)));

program
  .command('approve')
  .description('approve a run waiting for approval (a workflow id, or an automation: its waiting run)')
  .argument('<run>')
  .option('--by <name>', 'who approves (default $REFIT_USER or $USER)')
  .option('--reason <text>', 'why')
  .action(async (target: string, options) => set((await runs()).decideCommand(target, true, options)));

program
  .command('reject')
  .description('reject a run waiting for approval: it finishes without deploying')
  .argument('<run>')
  .requiredOption('--reason <text>', 'why (recorded in the run)')
  .option('--by <name>', 'who rejects (default $REFIT_USER or $USER)')
  .action(async (target: string, options) => set((await runs()).decideCommand(target, false, options)));

program
  .command('rollback')
  .description("put back a build an automation's model served before (the one just before by default), as a recorded run")
  .argument('<automation>')
  .option('--to <build>', 'the build to put back')
  .option('--reason <text>', 'why (recorded in the run)')
  .option('--by <name>', 'who rolls back (default $REFIT_USER or $USER)')
  .option('--json', 'print the result as JSON')
  .action(async (name: string, options) => set((await runs()).rollbackCommand(name, options)));

program
  .command('undeploy')
  .description("stop serving what a deploy serves: an automation's model in its environments, or a model id; recorded as a run")
  .argument('<automation|model>')
  .option('--variation <name>', 'only this variation (default: all of them)')
  .option('--environment <name>', 'with a model id: an environment to stop it in (repeat for several; default the default one)', collect)
  .option('--by <name>', 'who undeploys (default $REFIT_USER or the OS user)')
  .option('--json', 'print the result as JSON')
  .action(async (target: string, options) => set((await runs()).undeployCommand(target, options)));

program
  .command('scale-status')
  .description("how an automation's model autoscales now, per environment: replicas, each trigger's value against its threshold, the last scaling")
  .argument('<automation>')
  .option('--json', 'as JSON')
  .action(async (name: string, options) => set((await import('./commands/scaling.js')).scaleStatusCommand(name, options)));

program
  .command('logs')
  .description("print a build's log, or the latest build's of an automation (on the machine that built it)")
  .argument('<build|automation>')
  .action(async (target: string) => set((await runs()).logsCommand(target)));

const secrets = program.command('secrets').description('the secret store the worker reads (git tokens, webhook URLs), each secret with its scope');
secrets
  .command('set')
  .description('store a secret; the value is read from stdin (hidden when typed). A secret goes only to the hosts and automations its scope names')
  .argument('<name>')
  .argument('[value]', 'not accepted: a value on the command line would stay in shell history and process lists')
  .option('--host <host[:port]>', 'a host the value may be sent to (repeat for several; *.domain for its subdomains); none: this machine only', collect)
  .option('--automation <name>', 'an automation (or model id) that may use it (repeat for several); none: no build gets it', collect)
  .action(async (name: string, value: string | undefined, options, command: Command) => {
    if (value !== undefined)
      command.error(
        `error: refit secrets set reads the value from stdin, not from the command line (where shell history and process lists would keep it): refit secrets set ${name} < file, or type it when asked`,
      );
    return set((await secretCommands()).secretsSetCommand(name, options));
  });
secrets
  .command('scope')
  .description('change where a secret may go and who may use it, keeping its value')
  .argument('<name>')
  .option('--host <host[:port]>', 'a host the value may be sent to (repeat for several)', collect)
  .option('--automation <name>', 'an automation (or model id) that may use it (repeat for several)', collect)
  .option('--clear', 'remove the scope (loopback only, no build)')
  .action(async (name: string, options) => set((await secretCommands()).secretsScopeCommand(name, options)));
secrets
  .command('list')
  .description('list stored secrets with their scope, and which have none yet')
  .option('--json', 'as JSON')
  .action(async (options) => set((await secretCommands()).secretsListCommand(options)));
secrets
  .command('delete')
  .description('delete a secret')
  .argument('<name>')
  .action(async (name: string) => set((await secretCommands()).secretsDeleteCommand(name)));

program
  .command('setup')
  .description("register Refit's search attributes in the namespace (once per namespace of a real cluster)")
  .action(async () => set((await import('./commands/setup.js')).setupCommand()));

program
  .command('worker')
  .description('run a Refit worker until Ctrl-C or SIGTERM')
  .action(async () => (await import('../worker/main.js')).runWorker());

program
  .command('dev')
  .description('the embedded stack in one foreground process: Temporal dev server with its Web UI, and a worker')
  .option(
    '--kubernetes',
    "also this machine's single-node Kubernetes cluster (needs root), which the worker deploys to; writes $REFIT_HOME/dev/kubernetes.json",
  )
  .action(async (options: { kubernetes?: boolean }) => (await import('../devstack/dev.js')).runDevStack(options));

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    console.error(`refit: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = EXIT.failed;
  }
}
