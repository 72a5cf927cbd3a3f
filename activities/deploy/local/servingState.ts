import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DeploymentSpec } from '../deploymentTarget.js';

export interface Pod {
  pid: number;
  port: number;
  /** The cgroup folders holding its limits, to remove when it stops. */
  cgroups?: string[];
}

/** Everything needed to start a build's pods again (for a rollback) without the build folder. */
export interface DeployedBuild {
  buildId: string;
  /** The automation that deployed it (absent in state written before secrets were scoped). */
  automation?: string;
  artifactDir: string;
  python: string;
  spec: DeploymentSpec;
  metrics: Record<string, number>;
  deployedAt: string;
}

export interface CanaryState extends DeployedBuild {
  pods: Pod[];
  /** Percent of the variation's requests the canary takes. */
  weight: number;
}

export interface VariationState extends DeployedBuild {
  pods: Pod[];
  /** Builds this variation served before, newest first (a few are kept for rollbacks). */
  history: DeployedBuild[];
  /** A new build taking part of this variation's traffic while its rollout is checked. */
  canary?: CanaryState;
}

export interface ModelServingState {
  modelId: string;
  environment: string;
  router?: { pid: number; port: number };
  variations: Record<string, VariationState>;
  /** Share of requests per variation; equal shares when absent. */
  weights?: Record<string, number>;
  /** Pods started by an apply that has not finished: a retry stops them first. */
  pending?: Pod[];
}

export const STATE_FILE = 'state.json';

export function modelFolder(deploymentsRoot: string, environment: string, modelId: string): string {
  return path.join(deploymentsRoot, environment || 'default', modelId);
}

export function readState(folder: string, modelId: string, environment: string): ModelServingState {
  const file = path.join(folder, STATE_FILE);
  if (!existsSync(file)) return { modelId, environment, variations: {} };
  return JSON.parse(readFileSync(file, 'utf8')) as ModelServingState;
}

/** Written whole to a temporary file and renamed, so the router never reads half a state. */
export function writeState(folder: string, state: ModelServingState): void {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${file}.tmp`, file);
}
