// The data that crosses between the BuildDeploy workflow, its activities and clients. All of it is
// plain JSON and holds secret names only, never secret values: it is stored in workflow history.
import type { AutomationModel } from '../spec/schema/automation.js';
import type { StepLimits } from './stepLimits.js';

/** The format of BuildDeployInput; runs started before it carried one are version 1. */
export const RUN_INPUT_VERSION = 1;

export interface BuildDeployInput {
  /** Set by whoever starts the run: a worker refuses a version it does not know, saying so, rather than misread it. */
  version?: number;
  automation: AutomationModel;
  /** Why this run started. */
  trigger: { kind: 'schedule' | 'manual' | 'metric' | 'backfill' | 'registration'; detail?: string };
}

export type RunStep =
  | 'starting'
  | 'cloning'
  | 'building'
  | 'collecting_metrics'
  | 'checking_condition'
  | 'awaiting_approval'
  | 'waiting_for_promotion'
  | 'deploying'
  | 'canary'
  | 'rolling_back'
  | 'notifying'
  | 'finished'
  | 'failed';

export interface ConditionOutcome {
  passed: boolean;
  reason: string;
  metric_name?: string;
  value?: number;
  direction?: 'ABOVE' | 'BELOW';
  threshold?: number;
  threshold_source: 'static' | 'sql' | 'serving_build' | 'none';
  threshold_query?: string;
  serving_build_id?: string;
}

export interface DeploymentSummary {
  environment: string;
  variation: string;
  build_id: string;
  previous_build_id?: string;
  url?: string;
  changed: boolean;
  notes: string[];
}

export interface BuildSummary {
  log_file: string;
  duration_ms: number;
  tests: 'passed' | 'none';
  environment_reused: boolean;
  limits: string[];
  tags: string[];
  /** The image the build pushed, by digest (`<repository>/<model>@sha256:...`), when it pushed one. */
  image?: string;
}

export interface NotificationRecord {
  event: 'on_success' | 'on_error';
  delivered: boolean;
  detail: string;
}

/** What a person sends to a run waiting for approval. */
export interface ApprovalDecision {
  approve: boolean;
  /** Who decides (a name or an identity; Refit records it). */
  by: string;
  reason?: string;
}

export interface ApprovalRecord {
  decision: 'approved' | 'rejected' | 'timed_out_approved' | 'timed_out_rejected';
  by: string;
  reason?: string;
  /** When the decision was taken (workflow time). */
  at: string;
}

/** An undo the run made: a deployment put back (or removed), or a canary taken out; and why one failed. */
export interface RollbackRecord extends DeploymentSummary {
  undo?: 'rolled_back' | 'removed' | 'canary_aborted';
  /** Set when the undo itself failed: what it said. The run still reports its original error. */
  failed?: string;
}

/** The steps of a canary rollout in one environment, each with its guard's verdict. */
export interface CanaryRecord {
  environment: string;
  /** The step serving now (percent of the variation's traffic). */
  percent: number;
  steps: { percent: number; guard: ConditionOutcome }[];
  outcome: 'in_progress' | 'promoted' | 'rolled_back';
}

/** The query answer while a run goes on, and the skeleton of its result. */
export interface RunStatus {
  step: RunStep;
  automation: string;
  model_id: string;
  build_id: string;
  git_commit?: string;
  metrics?: Record<string, number>;
  condition?: ConditionOutcome;
  deployments: DeploymentSummary[];
  rolled_back: RollbackRecord[];
  /** Set when the serving build changed while the run was evaluating, so it decided again. */
  reevaluated?: string;
  /** Set when the automation requires approval, once decided. */
  approval?: ApprovalRecord;
  /** Set for canary rollouts: every step and its guard. */
  canaries?: CanaryRecord[];
  error?: string;
}

export interface BuildDeployResult extends RunStatus {
  deployed: boolean;
  /** One sentence: why this run deployed or did not. */
  reason: string;
  build?: BuildSummary;
  notifications: NotificationRecord[];
  trigger: BuildDeployInput['trigger'];
}

// Activity contracts.
export interface WorkspaceClaim {
  /** The task queue of the worker that claimed the workspace: the steps that use its files run there. */
  hostTaskQueue: string;
  buildDir: string;
  /** That worker's time limits (absent in runs claimed before workers reported them). */
  limits?: StepLimits;
}

export interface CloneOutput {
  commit: string;
  modelDir: string;
}

export interface BuildOutput {
  artifactDir: string;
  metricsFile: string;
  /** The interpreter of the build's environment, with the model's dependencies. */
  python: string;
  logFile: string;
  durationMs: number;
  tests: 'passed' | 'none';
  environmentReused: boolean;
  limits: string[];
  tags: string[];
  /** The image the build pushed (deploys to Kubernetes run it); absent when nothing was pushed. */
  image?: { reference: string; digest: string; pinned: string; dependencies: 'pushed' | 'reused' };
  /** Why there is no image where the deploy needs one (push_image: false): the run then does not deploy. */
  imageNotPushed?: string;
  /**
   * The metrics the build had logged when it ended, when asked for and they already hold the condition's
   * metric: the run then has no step of its own to read them. Absent otherwise (and from older workers).
   */
  metrics?: Record<string, number>;
  /**
   * The deployment condition's outcome, when asked for, the metrics are here and the condition needs
   * nothing else (none, or a static threshold): the run then has no condition step. Absent otherwise.
   */
  condition?: ConditionOutcome;
}

/**
 * What the build step is given (the workflow's call, and the bench's direct baseline of it): with the
 * condition's metric, so that a build that logged it returns its metrics and the run needs no metrics step,
 * and the condition itself, so that a static threshold is decided there too and the run needs no condition step.
 */
export function buildModelInput(buildId: string, automation: AutomationModel, modelDir: string) {
  return {
    buildId,
    automation: automation.name,
    modelId: automation.model_id,
    modelDir,
    buildSpec: automation.action.build_spec,
    metrics: { metricName: automation.action.deployment_condition?.metric_name },
    decide: { condition: automation.action.deployment_condition },
  };
}

/** A BuildOutput as builds before the camelCase contract reported it (recorded in the history of older runs). */
export interface LegacyBuildOutput extends BuildSummary {
  artifact_dir: string;
  metrics_file: string;
  python: string;
}

/** Reads a build's output in either shape, so a run started on an older worker finishes on a newer one. */
export function buildOutputOf(output: BuildOutput | LegacyBuildOutput): BuildOutput {
  if ('artifactDir' in output) return output;
  return {
    artifactDir: output.artifact_dir,
    metricsFile: output.metrics_file,
    python: output.python,
    logFile: output.log_file,
    durationMs: output.duration_ms,
    tests: output.tests,
    environmentReused: output.environment_reused,
    limits: output.limits,
    tags: output.tags,
  };
}
