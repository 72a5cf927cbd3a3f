// The objects a canary runs as: its own ServiceAccount and Deployment beside the variation's Deployment, as
// pure functions of the release like the variation's own. Its pods carry neither the model nor the variation
// label, so neither the model's Service nor the variation's Service (nor its Deployment's selector, nor its
// autoscaler's queries) ever reach them: only the HTTPRoute sends them traffic, through the canary Service.
import type { V1Deployment, V1ServiceAccount } from '@kubernetes/client-node';
import { canaryObjectName, LABELS, MANAGED_BY, objectNamesFor } from './names.js';
import { releaseOf, type Release } from './servingRecord.js';
import { deploymentFor, serviceAccountFor, type WorkloadSettings } from './workload.js';

/** A canary's pods: the Deployment it runs beside, by name. */
export function canarySelector(modelId: string, variation: string): Record<string, string> {
  return { [LABELS.canaryOf]: objectNamesFor(modelId, variation).variation, [LABELS.managedBy]: MANAGED_BY };
}

export function canaryServiceAccountFor(release: Release, namespace: string): V1ServiceAccount {
  const account = serviceAccountFor(release, { namespace });
  const { modelId, spec } = release;
  return {
    ...account,
    metadata: {
      ...account.metadata,
      name: canaryObjectName(modelId, spec.variation_name),
      labels: { ...account.metadata!.labels, ...canarySelector(modelId, spec.variation_name) },
    },
  };
}

/**
 * The variation's Deployment for this release, renamed, with `number_of_pods` replicas (an autoscaler scales the
 * variation once the canary is promoted), no kept history, and the canary's own pod labels and selector.
 */
export function canaryDeploymentFor(release: Release, settings: Omit<WorkloadSettings, 'autoscaled'>): V1Deployment {
  const { modelId, spec } = release;
  const stable = deploymentFor(release, { ...settings, autoscaled: false });
  const name = canaryObjectName(modelId, spec.variation_name);
  const selector = canarySelector(modelId, spec.variation_name);
  const { [LABELS.model]: _model, [LABELS.variation]: _variation, ...podLabels } = stable.spec!.template.metadata!.labels!;
  return {
    ...stable,
    metadata: { ...stable.metadata, name, labels: { ...stable.metadata!.labels, ...selector } },
    spec: {
      ...stable.spec!,
      replicas: spec.number_of_pods,
      revisionHistoryLimit: 0,
      selector: { matchLabels: selector },
      template: {
        metadata: { ...stable.spec!.template.metadata, labels: { ...podLabels, ...selector } },
        spec: { ...stable.spec!.template.spec!, serviceAccountName: name },
      },
    },
  };
}

/** The release a live canary Deployment runs. */
export function canaryReleaseOf(deployment: V1Deployment | undefined, modelId: string): Release | undefined {
  return deployment?.metadata?.labels?.[LABELS.canaryOf] ? releaseOf(deployment.spec?.template?.metadata, modelId) : undefined;
}
