import { describeTrigger } from '../../spec/summary.js';
import { relativeTime, table, when, withRefitClient } from '../cliContext.js';
import { EXIT, paint } from '../output.js';
import { definitionFiles } from './definitionFiles.js';

export async function registerCommand(paths: string[], options: { prune?: boolean; json?: boolean; allowCode?: boolean }): Promise<number> {
  const { loadDefinitions, printLoadProblems } = await definitionFiles();
  const loaded = await loadDefinitions(paths, { allowCode: options.allowCode });
  if (loaded.errors.length) {
    printLoadProblems(loaded);
    console.error(paint('red', 'nothing was registered: fix the errors above first'));
    return EXIT.failed;
  }
  return withRefitClient(async (refit) => {
    const registrations = await refit.register(
      loaded.automations.map((entry) => entry.automation),
      { prune: options.prune },
    );
    if (options.json) {
      console.log(JSON.stringify(registrations, null, 2));
      return;
    }
    const marks = {
      created: paint('green', 'created'),
      updated: paint('yellow', 'updated'),
      unchanged: paint('dim', 'unchanged'),
      deleted: paint('red', 'deleted'),
    };
    console.log(
      table(
        ['automation', 'schedule', 'change'],
        registrations.map((entry) => [entry.name, entry.scheduleId, marks[entry.change]]),
      ),
    );
  });
}

export async function listCommand(options: { json?: boolean; output?: string }): Promise<number> {
  return withRefitClient(async (refit) => {
    const automations = await refit.list();
    if (options.json) {
      console.log(
        JSON.stringify(
          automations.map(({ automation, ...state }) => ({ ...state, model_id: automation.model_id, trigger: describeTrigger(automation) })),
          null,
          2,
        ),
      );
      return;
    }
    if (!automations.length) {
      console.log('no automations registered: `refit register <file|folder>` registers some');
      return;
    }
    console.log(
      table(
        ['automation', 'model', 'trigger', 'state', 'next run'],
        automations.map((state) => [
          state.name,
          state.automation.model_id,
          describeTrigger(state.automation),
          state.paused ? paint('yellow', 'paused') : 'active',
          options.output === 'wide' ? when(state.nextRuns[0]) : relativeTime(state.nextRuns[0]),
        ]),
        { wide: options.output === 'wide' },
      ),
    );
  });
}

export async function describeCommand(name: string, options: { json?: boolean }): Promise<number> {
  return withRefitClient(async (refit) => {
    const state = await refit.describe(name);
    // The schedule knows only the runs it started; visibility finds manual runs and rollbacks as well.
    const runs = await refit.history(name, 5);
    if (options.json) {
      console.log(JSON.stringify({ ...state, runs }, null, 2));
      return;
    }
    const lines: [string, string][] = [
      ['automation', state.name],
      ['schedule', `${state.scheduleId} (${state.paused ? paint('yellow', `paused: ${state.note}`) : 'active'})`],
      ['model', state.automation.model_id],
      ['trigger', describeTrigger(state.automation)],
      ['policies', `overlap ${state.overlap.toLowerCase()}, catch-up window ${Math.round(state.catchupWindowMs / 1000)} s`],
      ['next runs', state.paused ? 'none while paused' : state.nextRuns.slice(0, 3).map(when).join(', ') || 'none'],
      [
        'recent runs',
        runs
          .map(
            (run) =>
              `${when(run.startedAt)} ${run.workflowId} ${run.status.toLowerCase()}${run.deployed === undefined ? '' : run.deployed ? ', deployed' : ', not deployed'}`,
          )
          .join('\n') || 'none',
      ],
    ];
    for (const [label, value] of lines) console.log(`${paint('bold', label.padEnd(12))} ${value.replace(/\n/g, `\n${' '.repeat(13)}`)}`);
    const { toYaml } = await import('../../spec/yaml.js');
    console.log(`\n${paint('bold', 'registered definition')}\n${toYaml(state.automation).trimEnd()}`);
  });
}

export async function pauseCommand(name: string, options: { note?: string }): Promise<number> {
  return withRefitClient(async (refit) => {
    await refit.pause(name, options.note);
    console.log(`paused ${name}: its schedule starts no runs until \`refit resume ${name}\``);
  });
}

export async function resumeCommand(name: string, options: { note?: string }): Promise<number> {
  return withRefitClient(async (refit) => {
    await refit.resume(name, options.note);
    console.log(`resumed ${name}`);
  });
}

export async function deleteCommand(name: string): Promise<number> {
  return withRefitClient(async (refit) => {
    await refit.delete(name);
    console.log(`deleted the schedule of ${name} (its past runs stay in Temporal's history; deployed models keep serving)`);
  });
}

export async function backfillCommand(name: string, options: { start: string; end: string }): Promise<number> {
  const start = new Date(options.start);
  const end = new Date(options.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    console.error('refit: --start and --end must be dates (ISO 8601, e.g. 2026-11-01T00:00:00Z) with --end after --start');
    return EXIT.usage;
  }
  return withRefitClient(async (refit) => {
    await refit.backfill(name, start, end);
    console.log(
      `backfilling ${name}: the runs its schedule would have started from ${when(start)} to ${when(end)} are starting (\`refit history ${name}\` lists them)`,
    );
  });
}
