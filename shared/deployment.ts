// What crosses between a run, its promotion and the deployment activities. Plain JSON, secret names only.
import type { AutomationModel } from '../spec/schema/automation.js';
import type { CanaryRecord, ConditionOutcome, DeploymentSummary, RollbackRecord } from './runTypes.js';
import type { StepLimits } from './stepLimits.js';

export type DeploymentSpec = AutomationModel['action']['deployment_spec'];

/** A build that passed its condition, and how to serve it. Secrets are names; targets resolve them. */
export interface DeploymentRequest {
  automation: string;
  modelId: string;
  buildId: string;
  /** "" for the default environment; otherwise one of deployment_spec.environments. */
  environment: string;
  spec: DeploymentSpec;
  /** The build's artifact folder (model.json, model.pkl, code/). */
  artifactDir: string;
  /** The interpreter of the build's environment: it has the model's dependencies. */
  python: string;
  /** The build's metrics, recorded with the deployment for champion/challenger checks. */
  metrics: Record<string, number>;
  /** The image the build pushed, by digest (`<repository>/<model>@sha256:...`); targets that run images run this one. */
  image?: string;
  /** The commit the build was made from (runs started before this field have none). */
  gitCommit?: string;
}

/** A variation's canary in one environment. */
export interface CanaryTarget {
  modelId: string;
  environment: string;
  variation: string;
  buildId: string;
}

/** The deploy phase of a run, as the model's promotion workflow takes it. */
export interface PromotionInput {
  /** The request of the first environment; each environment gets its own copy. */
  request: Omit<DeploymentRequest, 'environment'>;
  environments: string[];
  condition: AutomationModel['action']['deployment_condition'];
  /** What the run decided before it waited its turn. */
  decided: ConditionOutcome;
  rollout?: AutomationModel['action']['rollout'];
  hostTaskQueue: string;
  limits: StepLimits;
  /** Runs still waiting for the model, in the order they said so: the first is told as this promotion ends. */
  waiters?: PromotionWaiter[];
  /**
   * The run that starts the promotion hands its line on once the promotion has closed, so the run told to go
   * never finds it still closing; the promotion returns the line instead of telling it (unless cancelled).
   */
  lineToParent?: boolean;
}

/** How a promotion's line was handed on (the second argument of the promotion-done signal). */
export interface PromotionHandOn {
  /** Told by the run whose promotion has closed: a refused start means another run's promotion holds the model. */
  promotionClosed: boolean;
}

/** A run waiting for its model's promotion. */
export interface PromotionWaiter {
  workflowId: string;
  runId: string;
}

export interface PromotionResult {
  deployments: DeploymentSummary[];
  rolled_back: RollbackRecord[];
  canaries?: CanaryRecord[];
  /** The decision the deploy went by: the run's, or a new one when the champion changed meanwhile. */
  condition: ConditionOutcome;
  reevaluated?: string;
  /** Why nothing is deployed in the end (a canary taken out, a champion now better), when so. */
  notDeployed?: string;
  /** A failure, after its undos ran: the run reports it. */
  failure?: { message: string; type?: string };
  cancelled?: boolean;
  /** The runs that waited for this promotion, in order, for the run that started it to hand on (lineToParent). */
  line?: PromotionWaiter[];
}

/** The environments a deployment goes to, in order: "" is the default one, when the spec names none. */
export function environmentsOf(spec: Pick<DeploymentSpec, 'environments'>): string[] {
  return spec.environments.length ? spec.environments : [''];
}
