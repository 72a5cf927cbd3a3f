// How Refit's names become Kubernetes names, labels and annotations. Model ids may hold "_", variations
// upper case ("B" in the seed), secret names "_" and "." : Kubernetes allows none of that everywhere, so
// names are mapped here, in one place, and the exact values travel in labels and annotations.
import { createHash } from 'node:crypto';

export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  version: 'app.kubernetes.io/version',
  model: 'refit.dev/model',
  variation: 'refit.dev/variation',
  build: 'refit.dev/build',
  /** Marks the Kubernetes Secrets that the Refit secret store wrote. */
  secret: 'refit.dev/secret',
  /** On a canary's objects and pods: the name of the Deployment it runs beside (its pods' selector). */
  canaryOf: 'refit.dev/canary-of',
} as const;

export const ANNOTATIONS = {
  automation: 'refit.dev/automation',
  /** The full build id (a label value is limited to 63 characters). */
  buildId: 'refit.dev/build-id',
  /** The build's metrics, for champion/challenger conditions. */
  metrics: 'refit.dev/metrics',
  /** The DeploymentSpecifications the build was deployed with, so that a rollback can rebuild every object. */
  spec: 'refit.dev/deployment-spec',
  /** The image the build pushed, by digest, when it did (else the image is `<repository>/<model>:<build>`). */
  image: 'refit.dev/image',
  /** The format version of the record above (a newer Refit may write another). */
  recordVersion: 'refit.dev/record-version',
  /** The Refit name of a secret whose Kubernetes name had to be changed. */
  secretName: 'refit.dev/secret-name',
  /** A secret's scope: the hosts it may be sent to, and the automations or models that may use it (comma-separated). */
  secretHosts: 'refit.dev/secret-hosts',
  secretAutomations: 'refit.dev/secret-automations',
  /** On a canary's Service: the percent of its variation's traffic the canary takes. */
  canaryWeight: 'refit.dev/canary-weight',
  /** EKS IAM Roles for Service Accounts. */
  iamRole: 'eks.amazonaws.com/role-arn',
} as const;

export const MANAGED_BY = 'refit';

const MAX_NAME = 63;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 6);
}

/**
 * A DNS-1035 label (what Service names must be, and what every other kind accepts): lower case letters,
 * digits and "-", starting with a letter, at most 63 long. Too long a name keeps its start and gets a hash
 * of the whole, so two long names stay distinct.
 */
export function objectName(...parts: string[]): string {
  const joined = parts.join('-');
  let name = joined.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (!/^[a-z]/.test(name)) name = `m-${name}`;
  name = name.replace(/-+$/, '');
  if (name.length > MAX_NAME) name = `${name.slice(0, MAX_NAME - 7).replace(/-+$/, '')}-${shortHash(joined)}`;
  return name;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A valid label value: the value itself when it is one (model ids and variations always are), else a safe form with a hash. */
export function labelValue(value: string): string {
  if (value.length <= MAX_NAME && LABEL_VALUE.test(value)) return value;
  const safe = value.replace(/[^-A-Za-z0-9_.]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return `${safe.slice(0, MAX_NAME - 7).replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(value)}`.replace(/^-/, '');
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The Kubernetes Secret holding the Refit secret `name`: the name itself when Kubernetes allows it, else lower case with "-" for "_". */
export function secretObjectName(name: string): string {
  if (DNS_SUBDOMAIN.test(name) && name.length <= 253) return name;
  const lowered = name.toLowerCase().replace(/_/g, '-');
  return DNS_SUBDOMAIN.test(lowered) ? lowered : lowered.replace(/[^a-z0-9]/g, '-');
}

/** The names of one model's objects: the model-wide ones, and those of one variation. */
export function objectNamesFor(modelId: string, variation: string): { model: string; variation: string } {
  return { model: objectName(modelId), variation: objectName(modelId, variation) };
}

/** The canary Deployment, Service and ServiceAccount of a variation. */
export function canaryObjectName(modelId: string, variation: string): string {
  return objectName(modelId, variation, 'canary');
}

/** Labels every object of a model carries; the first two select its pods. */
export function modelLabels(modelId: string): Record<string, string> {
  return {
    [LABELS.model]: labelValue(modelId),
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.name]: labelValue(modelId),
    [LABELS.component]: 'model-server',
    [LABELS.partOf]: 'refit',
  };
}

/** The labels that select a variation's pods. A Deployment's selector cannot change, so this never includes the build. */
export function variationSelector(modelId: string, variation: string): Record<string, string> {
  return { [LABELS.model]: labelValue(modelId), [LABELS.variation]: labelValue(variation) };
}

export function variationLabels(modelId: string, variation: string): Record<string, string> {
  return { ...modelLabels(modelId), ...variationSelector(modelId, variation) };
}

/** `key=value,...` for a list call. */
export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** Selects a model's objects (Deployments, ReplicaSets) other than those of its canaries. */
export function servingSelector(modelId: string): string {
  return `${selectorString({ [LABELS.model]: labelValue(modelId), [LABELS.managedBy]: MANAGED_BY })},!${LABELS.canaryOf}`;
}
