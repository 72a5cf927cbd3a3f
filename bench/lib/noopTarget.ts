// A deployment target that deploys nothing: it remembers in memory what "serves", so the condition and
// deploy steps run their real code paths around it at (almost) no cost of their own.
import type { DeploymentResult, DeploymentTarget, ServingStatus } from '../../activities/deploy/deploymentTarget.js';
import type { DeploymentRequest } from '../../shared/deployment.js';

export class NoopDeploymentTarget implements DeploymentTarget {
  readonly name = 'bench-noop';
  private readonly serving = new Map<string, ServingStatus>();

  async apply(request: DeploymentRequest): Promise<DeploymentResult> {
    const status = this.statusOf(request.modelId, request.environment);
    const current = status.variations[request.spec.variation_name];
    const previous = current?.buildId;
    status.variations[request.spec.variation_name] = {
      buildId: request.buildId,
      metrics: request.metrics,
      deployedAt: new Date().toISOString(),
      pods: [],
      previousBuildIds: previous ? [previous, ...current.previousBuildIds] : [],
    };
    return {
      modelId: request.modelId,
      environment: request.environment,
      variation: request.spec.variation_name,
      buildId: request.buildId,
      previousBuildId: previous,
      changed: previous !== request.buildId,
      notes: ['bench: nothing was deployed'],
    };
  }

  async rollback(target: { modelId: string; environment: string; variation: string; buildId: string }): Promise<DeploymentResult> {
    const status = this.statusOf(target.modelId, target.environment);
    const current = status.variations[target.variation];
    const previous = current?.buildId;
    const history = (current?.previousBuildIds ?? []).filter((buildId) => buildId !== target.buildId);
    status.variations[target.variation] = { buildId: target.buildId, metrics: {}, deployedAt: new Date().toISOString(), pods: [], previousBuildIds: history };
    return { ...target, previousBuildId: previous, changed: true, notes: [] };
  }

  async status(modelId: string, environment: string): Promise<ServingStatus | undefined> {
    return this.serving.get(`${environment}/${modelId}`);
  }

  async remove(modelId: string, environment: string, variation?: string): Promise<void> {
    if (!variation) this.serving.delete(`${environment}/${modelId}`);
    else delete this.serving.get(`${environment}/${modelId}`)?.variations[variation];
  }

  private statusOf(modelId: string, environment: string): ServingStatus {
    const key = `${environment}/${modelId}`;
    let status = this.serving.get(key);
    if (!status) {
      status = { modelId, environment, variations: {} };
      this.serving.set(key, status);
    }
    return status;
  }
}
