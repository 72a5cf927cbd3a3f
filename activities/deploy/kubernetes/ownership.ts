// Refit applies under its own field manager and never forces: an object that a GitOps tool (Argo CD, Flux)
// or anyone else manages is reported, not taken over. These pure functions recognise such objects and turn
// server-side apply conflicts into messages that say what to do.
import type { KubernetesObject } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { LABELS, MANAGED_BY } from './names.js';

/** Field managers of GitOps controllers, as they appear in managedFields. */
const GITOPS_MANAGERS: Record<string, string> = {
  'argocd-controller': 'Argo CD',
  'argocd-application-controller': 'Argo CD',
  'kustomize-controller': 'Flux (kustomize-controller)',
  'helm-controller': 'Flux (helm-controller)',
};

/** Who, besides Refit, tracks this object through GitOps; undefined when nobody does. */
export function gitOpsOwner(object: KubernetesObject): string | undefined {
  const labels = object.metadata?.labels ?? {};
  const annotations = object.metadata?.annotations ?? {};
  const trackingId = annotations['argocd.argoproj.io/tracking-id'];
  if (trackingId) return `Argo CD (annotation argocd.argoproj.io/tracking-id=${trackingId})`;
  if (labels['argocd.argoproj.io/instance']) return `Argo CD (label argocd.argoproj.io/instance=${labels['argocd.argoproj.io/instance']})`;
  // Argo CD's label tracking uses the common app.kubernetes.io/instance label; Helm sets it too, so it only
  // counts together with an Argo CD annotation.
  const instance = labels['app.kubernetes.io/instance'];
  if (instance && Object.keys(annotations).some((key) => key.startsWith('argocd.argoproj.io/'))) {
    return `Argo CD (label app.kubernetes.io/instance=${instance} with argocd.argoproj.io annotations)`;
  }
  for (const tool of ['kustomize', 'helm'] as const) {
    const name = labels[`${tool}.toolkit.fluxcd.io/name`];
    if (name) return `Flux (${tool}.toolkit.fluxcd.io/name=${name}, namespace ${labels[`${tool}.toolkit.fluxcd.io/namespace`] ?? '?'})`;
  }
  const manager = object.metadata?.managedFields?.map((entry) => entry.manager ?? '').find((name) => name in GITOPS_MANAGERS);
  return manager ? `${GITOPS_MANAGERS[manager]} (field manager ${manager})` : undefined;
}

export function describeObject(object: KubernetesObject): string {
  return `${object.kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata?.name}`;
}

const GITOPS_HINT =
  'Refit never forces over another manager. Either hand the object to Refit (stop managing it there and delete it), ' +
  'or deploy through GitOps: `refit describe --manifests <definitions>` prints the objects a deploy would apply, to commit to your repository.';

/** The error for an object that another tool manages: names the object, the manager and the way out. */
export function managedElsewhere(object: KubernetesObject, manager: string, detail = ''): RefitError {
  return new RefitError(ErrorTypes.DeploymentFailed, `${describeObject(object)} is managed by ${manager}${detail}, so Refit left it untouched. ${GITOPS_HINT}`);
}

/**
 * Checks an object that exists where Refit is about to apply: it must not be tracked by GitOps, must have been
 * created by Refit, and (names being mapped, e.g. variations "B" and "b") must belong to the same model and variation.
 */
export function checkOwnership(live: KubernetesObject, wanted: KubernetesObject): void {
  const gitOps = gitOpsOwner(live);
  if (gitOps) throw managedElsewhere(live, gitOps);
  const labels = live.metadata?.labels ?? {};
  if (labels[LABELS.managedBy] !== MANAGED_BY) {
    const managers = [...new Set((live.metadata?.managedFields ?? []).map((entry) => entry.manager).filter(Boolean))].join(', ') || 'someone else';
    throw managedElsewhere(live, managers, ' (it was not created by Refit)');
  }
  for (const key of [LABELS.model, LABELS.variation]) {
    const theirs = labels[key];
    const ours = wanted.metadata?.labels?.[key];
    if (ours !== undefined && theirs !== undefined && theirs !== ours) {
      throw new RefitError(
        ErrorTypes.DeploymentFailed,
        `${describeObject(live)} belongs to ${key.split('/')[1]} "${theirs}", and "${ours}" maps to the same Kubernetes name: ` +
          'rename the model or variation so that their lower-case forms differ',
      );
    }
  }
}

interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The managers and fields of a server-side apply conflict (HTTP 409 with FieldManagerConflict causes), if `err` is one. */
export function applyConflict(err: unknown): { managers: string[]; fields: string[] } | undefined {
  const { code, body } = err as { code?: number; body?: unknown };
  if (code !== 409) return undefined;
  const status = (typeof body === 'string' ? safeParse(body) : body) as { details?: { causes?: StatusCause[] } } | undefined;
  const causes = (status?.details?.causes ?? []).filter((cause) => cause.reason === 'FieldManagerConflict');
  if (!causes.length) return undefined;
  const managers = [...new Set(causes.map((cause) => /conflict with "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? 'another manager'))];
  return { managers, fields: causes.map((cause) => cause.field ?? '?') };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function conflictError(object: KubernetesObject, conflict: { managers: string[]; fields: string[] }): RefitError {
  const managers = conflict.managers.map((manager) =>
    GITOPS_MANAGERS[manager] ? `${GITOPS_MANAGERS[manager]} (field manager ${manager})` : `field manager "${manager}"`,
  );
  return managedElsewhere(object, managers.join(' and '), ` (its fields ${conflict.fields.join(', ')} would change)`);
}
