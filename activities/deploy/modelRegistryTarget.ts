// A deployment target that also keeps a model registry in step: after each change of what a variation serves (a
// deploy, a rollback, a promoted canary) the registry's alias for that variation moves to the build now serving.
// The serving change comes first; a registry that fails makes the step fail and retry, and the target's apply of
// an unchanged build is a no-op, so the retry only updates the registry.
import type { CanaryTarget, DeploymentRequest } from '../../shared/deployment.js';
import type { MlflowModelRegistry, RegistryBuild } from '../mlflow/mlflowModelRegistry.js';
import type { DeployContext, DeploymentResult, DeploymentTarget } from './deploymentTarget.js';

export function withModelRegistry(target: DeploymentTarget, registry: MlflowModelRegistry): DeploymentTarget {
  const record = async (
    result: DeploymentResult,
    build: Omit<RegistryBuild, 'modelId' | 'environment' | 'variation' | 'buildId'>,
  ): Promise<DeploymentResult> => {
    const moved = await registry.promote({
      modelId: result.modelId,
      environment: result.environment,
      variation: result.variation,
      buildId: result.buildId,
      ...build,
    });
    const note = `MLflow Model Registry: ${moved.name} version ${moved.version}${moved.created ? ' (registered now)' : ''} is "${moved.alias}"`;
    return { ...result, notes: [...result.notes, note] };
  };
  const fromRequest = (request: DeploymentRequest) => ({
    automation: request.automation,
    ...(request.gitCommit ? { gitCommit: request.gitCommit } : {}),
    ...(request.image ? { image: request.image } : {}),
  });
  const wrapped: DeploymentTarget = {
    name: target.name,
    apply: async (request: DeploymentRequest, options?: DeployContext) => record(await target.apply(request, options), fromRequest(request)),
    rollback: async (rollbackTarget) => record(await target.rollback(rollbackTarget), {}),
    status: (modelId, environment) => target.status(modelId, environment),
    remove: async (modelId, environment, variation) => {
      await target.remove(modelId, environment, variation);
      // A whole model's removal leaves the registry's aliases as they were: which variations it had is gone with it.
      if (variation) await registry.removeAlias(modelId, environment, variation);
    },
  };
  if (target.scaleStatus) wrapped.scaleStatus = target.scaleStatus.bind(target);
  if (target.plan) wrapped.plan = target.plan.bind(target);
  if (target.startCanary) wrapped.startCanary = target.startCanary.bind(target);
  if (target.setCanaryWeight) wrapped.setCanaryWeight = target.setCanaryWeight.bind(target);
  if (target.abortCanary) wrapped.abortCanary = target.abortCanary.bind(target);
  if (target.promoteCanary) {
    const promote = target.promoteCanary.bind(target);
    wrapped.promoteCanary = async (canary: CanaryTarget, options?: DeployContext) => record(await promote(canary, options), {});
  }
  return wrapped;
}
