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
