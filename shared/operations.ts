// What clients send to and get back from Refit's other workflows: rollbacks, plans, metric trigger checks.
import type { AutomationModel } from '../spec/schema/automation.js';

export interface RollbackInput {
  automation: AutomationModel;
  /** The build to put back; the one served just before the current one when absent. */
  toBuildId?: string;
  by: string;
  reason?: string;
  /** The queue of the worker that serves the model (the one that last deployed it); found by asking any worker otherwise. */
  hostTaskQueue?: string;
}

export interface RollbackResult {
  automation: string;
  model_id: string;
  by: string;
  reason?: string;
  rolled_back: { environment: string; variation: string; from: string; to: string }[];
}

export interface PlanRunResult {
  automation: string;
  commit: string;
  steps: string[];
  /** What would make the run fail before it starts (a secret missing or out of scope). */
  problems?: string[];
}

export interface MetricTriggerCheckInput {
  automation: AutomationModel;
  taskQueue: string;
}

export interface MetricTriggerCheckResult {
  fired: boolean;
  value: number;
  threshold: number;
  direction: 'ABOVE' | 'BELOW';
  reason: string;
  /** The BuildDeploy run this check started. */
  build_workflow_id?: string;
}

/** `refit scale-status`: per environment, what autoscales each variation and how it stands now. */
export interface ScaleStatusInput {
  automation: AutomationModel;
  hostTaskQueue?: string;
}

export interface TriggerReading {
  /** "latency max over 4 min" */
  trigger: string;
  unit: string;
  threshold: number;
  /** As the autoscaler last read it; absent before its first reading. */
  value?: number;
}

export interface VariationScale {
  variation: string;
  build_id?: string;
  /** keda: a ScaledObject and the HPA KEDA made; hpa: a plain HPA (cpu/memory without KEDA); none: number_of_pods. */
  autoscaler: 'keda' | 'hpa' | 'none';
  replicas: number;
  ready_replicas: number;
  desired_replicas?: number;
  min_replicas?: number;
  max_replicas?: number;
  triggers: TriggerReading[];
  /** The newest rescale the autoscaler reported. */
  last_scale?: { at: string; message: string };
  /** What keeps it from scaling as configured (a trigger that does not answer, the max reached). */
  problems: string[];
}

export interface EnvironmentScale {
  environment: string;
  /** Where it was read: `namespace "x"`, or why there is nothing to read. */
  where: string;
  /** Set when the target cannot autoscale at all (the local target). */
  unsupported?: string;
  variations: VariationScale[];
}

export interface ScaleStatusResult {
  automation: string;
  model_id: string;
  environments: EnvironmentScale[];
}

/** `refit undeploy`: stop serving a model (one variation, or all of them) in its environments. */
export interface UndeployInput {
  modelId: string;
  /** The automation named on the command line, when it was one (recorded with the run). */
  automation?: string;
  environments: string[];
  variation?: string;
  by: string;
  hostTaskQueue?: string;
}

export interface UndeployResult {
  model_id: string;
  by: string;
  /** What stopped serving: per environment, each variation and the build it served. */
  stopped: { environment: string; variation: string; build_id: string }[];
  /** Environments where nothing (of that variation) served. */
  nothing_in: string[];
}
