import type { CanaryTarget, DeploymentRequest } from '../../shared/deployment.js';
import type { VariationScale } from '../../shared/operations.js';

export interface ServingVariation {
  buildId: string;
  metrics: Record<string, number>;
  deployedAt: string;
  /** Each serving replica: a process here ("pid 1234"), a replica of a Deployment on Kubernetes ("replica 2"). */
  pods: { name: string; port: number; alive: boolean }[];
  /** Builds this variation served before, newest first: what a rollback can put back. */
  previousBuildIds: string[];
}

/** What is serving a model in one environment now. */
export interface ServingStatus {
  modelId: string;
  environment: string;
  /** Where clients send requests (Open Inference Protocol v2). */
  url?: string;
  variations: Record<string, ServingVariation>;
}

export interface DeploymentResult {
  modelId: string;
  environment: string;
  variation: string;
  buildId: string;
  /** The build this variation served before, if any: what a rollback returns to. */
  previousBuildId?: string;
  url?: string;
  /** False when this build was already serving (a retried deploy changes nothing). */
  changed: boolean;
  /** Parts of the specification this target does not apply, and why. */
  notes: string[];
}

export interface DeployContext {
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

/** A build that runs (or ran) as the canary of a model's variation in an environment. */

/**
 * Where models are served. apply() replaces a variation's build only once the new one is healthy; when it
 * does not become healthy in time, the previous build keeps serving and apply() fails with the reason.
 */
export interface DeploymentTarget {
  readonly name: string;
  apply(request: DeploymentRequest, options?: DeployContext): Promise<DeploymentResult>;
  /** Puts `buildId` (one this variation served before) back. */
  rollback(target: { modelId: string; environment: string; variation: string; buildId: string }): Promise<DeploymentResult>;
  status(modelId: string, environment: string): Promise<ServingStatus | undefined>;
  /** Stops serving a model (one variation, or all of them). */
  remove(modelId: string, environment: string, variation?: string): Promise<void>;

  /** How each serving variation autoscales now (`refit scale-status`); absent on targets that never autoscale. */
  scaleStatus?(modelId: string, environment: string): Promise<{ where: string; variations: VariationScale[] }>;

  /** What apply() would change now, in sentences, changing nothing (`refit plan --run`). */
  plan?(request: DeploymentRequest): Promise<string[]>;

  // Canary rollouts (rollout.strategy: canary), for targets that can split a variation's traffic.
  /** Serves the build beside the variation's current one with `percent` of its traffic, once ready. */
  startCanary?(request: DeploymentRequest, percent: number, options?: DeployContext): Promise<DeploymentResult>;
  setCanaryWeight?(target: CanaryTarget, percent: number): Promise<void>;
  /** The canary becomes the variation's build (on some targets after a rollout, hence the context). */
  promoteCanary?(target: CanaryTarget, options?: DeployContext): Promise<DeploymentResult>;
  /** The canary stops; the build it ran beside serves all traffic again. */
  abortCanary?(target: CanaryTarget): Promise<void>;
}
