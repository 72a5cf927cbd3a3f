// `refit plan --run`: what a run of an automation would do now, step by step, building and deploying
// nothing. Read-only activities only; it runs on a worker because the secrets and the analytics store
// are there.
import { environmentsOf } from '../shared/deployment.js';
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';
import type { PlanRunResult } from '../shared/operations.js';
import type { AutomationModel } from '../spec/schema/automation.js';

const retry = { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const { resolveCommit, hostTaskQueue, planSecrets } = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });

export async function planRun(input: { automation: AutomationModel; hostTaskQueue?: string }): Promise<PlanRunResult> {
  const { automation } = input;
  const { build_spec: build, deployment_spec: deploy, deployment_condition: condition, approval, rollout } = automation.action;
  // The serving state (champion, pods) is on the worker that deploys: ask its own queue.
  const host = proxyActivities<Activities>({ taskQueue: input.hostTaskQueue ?? (await hostTaskQueue()), startToCloseTimeout: '2 minutes', retry });
  // Every secret first: a missing git token would otherwise end the plan at the clone, hiding the others.
  // Plans recorded before this check ran none (a plan lasts seconds, but its history is replayed in tests).
  const secrets = patched('refit-plan-secrets') ? await planSecrets({ automation }) : { checked: [], problems: [], skipped: true };
  const tokenProblem = build.git_access_token_secret && secrets.problems.some((problem) => problem.includes(`"${build.git_access_token_secret}"`));
  const commit = tokenProblem
    ? '(not resolved: its token is not available, see above)'
    : await resolveCommit({ buildSpec: build, automation: automation.name, modelId: automation.model_id });
  const environments = environmentsOf(deploy);
  const steps = [
    ...('skipped' in secrets
      ? []
      : [
          secrets.problems.length
            ? `secrets: ${secrets.problems.length} problem(s), the run would fail: ${secrets.problems.join('; ')}`
            : `secrets: ${secrets.checked.length ? `${secrets.checked.join(', ')} found and in scope` : 'none needed'}`,
        ]),
    `clone ${build.git_uri} at ${build.git_branch}: commit ${commit}`,
    `build main_dir "${build.main_dir}" (dependencies, tests, training)${build.env_vars.length ? ` with ${build.env_vars.length} env var(s)` : ''}`,
    await host.planCondition({ condition, modelId: automation.model_id, variation: deploy.variation_name, environment: environments[0]! }),
  ];
  if (approval?.required) steps.push(`wait for approval (refit approve / reject) up to ${approval.timeout}, then ${approval.on_timeout}`);
  if (rollout)
    steps.push(
      `roll out as a canary: ${rollout.steps.join('% → ')}%, checking ${rollout.guard.type === 'LiveMetric' ? 'a live metric' : rollout.guard.metric_name} every ${rollout.interval}`,
    );
  for (const environment of environments) {
    const lines = await host.planDeployment({
      automation: automation.name,
      modelId: automation.model_id,
      buildId: '<new build>',
      environment,
      spec: deploy,
      artifactDir: '',
      python: '',
      metrics: {},
    });
    steps.push(...lines.map((line) => `deploy${environment ? ` (${environment})` : ''}: ${line}`));
  }
  return { automation: automation.name, commit, steps, ...(secrets.problems.length ? { problems: secrets.problems } : {}) };
}
