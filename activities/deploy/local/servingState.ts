import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { DeploymentSpec } from '../../../shared/deployment.js';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { DeploymentSpecifications } from '../../../spec/schema/deployment.js';
import { describeProblem } from '../../../spec/validate.js';

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
/** The state file's format; files written before it had a version are version 1. */
export const STATE_VERSION = 1;

const PodRecord = z.object({ pid: z.number().int(), port: z.number().int(), cgroups: z.array(z.string()).optional() });
const DeployedBuildRecord = z.object({
  buildId: z.string(),
  automation: z.string().optional(),
  artifactDir: z.string(),
  python: z.string(),
  spec: DeploymentSpecifications,
  metrics: z.record(z.string(), z.number()),
  deployedAt: z.string(),
});
const StateRecord = z.object({
  version: z.number().int().optional(),
  modelId: z.string(),
  environment: z.string(),
  router: z.object({ pid: z.number().int(), port: z.number().int() }).optional(),
  variations: z.record(
    z.string(),
    DeployedBuildRecord.extend({
      pods: z.array(PodRecord),
      history: z.array(DeployedBuildRecord),
      canary: DeployedBuildRecord.extend({ pods: z.array(PodRecord), weight: z.number() }).optional(),
    }),
  ),
  weights: z.record(z.string(), z.number()).optional(),
  pending: z.array(PodRecord).optional(),
});

export function modelFolder(deploymentsRoot: string, environment: string, modelId: string): string {
  return path.join(deploymentsRoot, environment || 'default', modelId);
}

export function readState(folder: string, modelId: string, environment: string): ModelServingState {
  const file = path.join(folder, STATE_FILE);
  if (!existsSync(file)) return { modelId, environment, variations: {} };
  const refuse = (why: string) =>
    new RefitError(
      ErrorTypes.DeploymentFailed,
      `${file} (what serves ${modelId}) ${why}; this worker cannot read it: stop the model's servers and remove the file, or run the Refit that wrote it`,
    );
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw refuse('is not JSON');
  }
  const version = (data as { version?: unknown })?.version ?? 1;
  if (version !== STATE_VERSION) throw refuse(`has format version ${JSON.stringify(version)}, and this Refit reads version ${STATE_VERSION}`);
  const parsed = StateRecord.safeParse(data);
  if (!parsed.success)
    throw refuse(
      `does not hold a serving state (${parsed.error.issues
        .slice(0, 3)
        .map((issue) => describeProblem({ path: issue.path.map(String), message: issue.message, severity: 'error' }))
        .join('; ')})`,
    );
  const { version: _version, ...state } = parsed.data;
  return state;
}

/** Written whole to a temporary file and renamed, so the router never reads half a state. */
export function writeState(folder: string, state: ModelServingState): void {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify({ version: STATE_VERSION, ...state }, null, 2));
  renameSync(`${file}.tmp`, file);
}

/** What tells two versions of a state file apart: the router reports it for the file it loaded. */
export function stateDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
