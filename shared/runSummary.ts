// The one-line summary a run (or a schedule's action) carries into the Temporal Web UI and `temporal workflow
// list`, and its details: what it builds from where, what decides the deploy and where it goes.
import type { AutomationModel } from '../spec/schema/automation.js';

export function runSummary(automation: AutomationModel, started: 'manual' | 'schedule' | 'metric check'): string {
  const { build_spec: build } = automation.action;
  const what = started === 'metric check' ? `check ${automation.name}'s metric trigger` : `${started} run of ${automation.name}`;
  return `${what}: build ${automation.model_id} from ${build.git_uri} @ ${build.git_branch}`;
}

export function runDetails(automation: AutomationModel): string {
  const { deployment_condition: condition, deployment_spec: deploy } = automation.action;
  const decides = !condition
    ? 'every successful build deploys'
    : condition.type === 'BuildMetric'
      ? `deploys when ${condition.metric_name} is ${condition.direction.toLowerCase()} ${condition.threshold}`
      : `deploys when ${condition.metric_name} is ${condition.direction.toLowerCase()} the serving build's`;
  const where = deploy.environments.length ? `environments ${deploy.environments.join(', ')}` : 'the default environment';
  return [
    `**model** ${automation.model_id} · **trigger** ${automation.trigger.type}`,
    `**condition** ${decides}`,
    `**deploy** variation ${deploy.variation_name}, ${deploy.number_of_pods} pod(s) × ${deploy.cpu_fraction} CPU, ${deploy.memory}, to ${where}`,
  ].join('\n\n');
}
