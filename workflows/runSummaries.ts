// What a run shows in the Temporal Web UI besides its history: a one-line summary per activity ("clone
// https://…#models/x @ main") and the run's current details, updated as it moves and ending with its outcome
// ("deployed churn-3918… @776ed08 (f1_score 0.989 > 0.65)"). Plain functions of the run's own data: deterministic.
import { readableNumbers } from '../shared/readableNumbers.js';
import type { AutomationModel } from '../spec/schema/automation.js';

type Action = AutomationModel['action'];

const short = (commit: string | undefined) => (commit ? commit.slice(0, 7) : '?');

export const activitySummaries = {
  clone: (build: Action['build_spec']) => `clone ${build.git_uri} @ ${build.git_branch}`,
  build: (buildId: string, commit: string) => `build ${buildId} @${short(commit)}: dependencies, tests, training`,
  metrics: (buildId: string) => `read the metrics of ${buildId}`,
  condition: (condition: Action['deployment_condition']) => {
    if (!condition) return 'no deployment condition: deploy every successful build';
    const comparison = condition.direction === 'BELOW' ? '<' : '>';
    return condition.type === 'BuildMetric'
      ? `check ${condition.metric_name} ${comparison} ${condition.threshold.length > 60 ? 'the SQL threshold' : condition.threshold}`
      : `check ${condition.metric_name} ${comparison} the serving build's (champion/challenger)`;
  },
};

/** The run's current details, in Temporal's single-line markdown. */
export const runDetails = {
  started: (automation: AutomationModel) =>
    `**${automation.name}**: cloning ${automation.action.build_spec.git_uri} @ ${automation.action.build_spec.git_branch}`,
  building: (buildId: string, commit: string) => `building ${buildId} @${short(commit)}`,
  checking: (buildId: string, commit: string) => `checking ${buildId} @${short(commit)} against its deployment condition`,
  deploying: (buildId: string, commit: string | undefined, reason: string) => `deploying ${buildId} @${short(commit)} (${reason})`,
  finished: (deployed: boolean, buildId: string, commit: string | undefined, reason: string) =>
    deployed
      ? `deployed ${buildId} @${short(commit)} (${conditionPart(reason)})`
      : `not deployed: ${buildId} @${short(commit)}: ${reason.replace(/^not deployed: /, '')}`,
};

/** "deployed build x (variation default): f1_score 0.989 > 0.65" → "f1_score 0.989 > 0.65". */
function conditionPart(reason: string): string {
  const colon = reason.indexOf('): ');
  return readableNumbers(colon >= 0 ? reason.slice(colon + 3) : reason);
}
