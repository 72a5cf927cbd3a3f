import type { Client } from '@temporalio/client';
import { loadDefinitions } from '../../spec/loader.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { PlanRunResult } from '../../shared/operations.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { withRefitClient } from '../cliContext.js';
import { EXIT, paint } from '../output.js';
import { planRegistration } from '../plan.js';
import { scheduleIdOf } from '../schedules.js';
import { printLoadProblems } from './validate.js';

/** `refit plan`: what `refit register` would change, and with --run what a run would do now; changes nothing. */
export async function planCommand(paths: string[], options: { prune?: boolean; run?: boolean; json?: boolean; allowCode?: boolean }): Promise<number> {
  const loaded = await loadDefinitions(paths, { allowCode: options.allowCode });
  if (loaded.errors.length) {
    printLoadProblems(loaded);
    return EXIT.failed;
  }
  const automations = loaded.automations.map((entry) => entry.automation);
  return withRefitClient(async (refit) => {
    const changes = await planRegistration(refit.client, automations, { taskQueue: refit.taskQueue, prune: options.prune });
    const runs: PlanRunResult[] = [];
    if (options.run)
      for (const automation of automations)
        runs.push(await planRun(refit.client, refit.taskQueue, automation, await refit.servingHostQueue(automation.model_id)));
    if (options.json) {
      console.log(JSON.stringify({ changes, runs }, null, 2));
      return;
    }
    const marks = { create: paint('green', 'create'), update: paint('yellow', 'update'), unchanged: paint('dim', 'unchanged'), delete: paint('red', 'delete') };
    for (const change of changes) {
      console.log(`${paint('bold', change.name)}: ${marks[change.change]} schedule ${change.scheduleId}`);
      if (change.diff && change.change === 'update') console.log(colorDiff(change.diff));
    }
    for (const run of runs) {
      console.log(`\n${paint('bold', run.automation)}: a run now would`);
      run.steps.forEach((step, index) => console.log(`  ${index + 1}. ${step}`));
    }
    console.log(paint('dim', '\nnothing was changed (refit register applies the plan)'));
    if (runs.some((run) => run.problems?.length)) return EXIT.failed;
  });
}

function colorDiff(diff: string): string {
  return diff
    .split('\n')
    .slice(2) // the "Index:" and separator lines say nothing here
    .map((line) =>
      line.startsWith('+') && !line.startsWith('+++') ? paint('green', line) : line.startsWith('-') && !line.startsWith('---') ? paint('red', line) : line,
    )
    .join('\n');
}

async function planRun(client: Client, taskQueue: string, automation: AutomationModel, hostTaskQueue: string | undefined): Promise<PlanRunResult> {
  return client.workflow.execute<(input: { automation: AutomationModel; hostTaskQueue?: string }) => Promise<PlanRunResult>>(WorkflowTypes.planRun, {
    taskQueue,
    workflowId: `${scheduleIdOf(automation.name)}-plan-${new Date().toISOString().replace(/[-:.]/g, '')}`,
    args: [{ automation, hostTaskQueue }],
  });
}
