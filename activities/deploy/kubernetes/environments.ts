// Where a deployment_spec environment lives: a namespace of the one cluster (the default), or a context of
// the kubeconfig (one cluster per environment). "" is the default environment.
import { KubeConfig } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';

export type EnvironmentMapping = 'namespaces' | 'contexts';

export interface EnvironmentPlace {
  kubeConfig: KubeConfig;
  /** The kubeconfig context, in "contexts" mode. */
  context?: string;
  namespace: string;
  /** For messages. */
  where: string;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The namespace of an environment in "namespaces" mode: its own name. */
export function namespaceOfEnvironment(environment: string, defaultNamespace: string): string {
  if (!environment) return defaultNamespace;
  if (!NAMESPACE.test(environment)) {
    throw new RefitError(
      ErrorTypes.DeploymentFailed,
      `environment "${environment}" cannot be a Kubernetes namespace (lower-case letters, digits and "-" only): rename it in deployment_spec.environments`,
    );
  }
  return environment;
}

export function placeOfEnvironment(
  environment: string,
  options: { kubeConfig: KubeConfig; namespace: string; environments: EnvironmentMapping },
): EnvironmentPlace {
  if (options.environments === 'namespaces' || !environment) {
    const namespace = namespaceOfEnvironment(options.environments === 'namespaces' ? environment : '', options.namespace);
    return { kubeConfig: options.kubeConfig, namespace, where: `namespace "${namespace}"` };
  }
  const context = options.kubeConfig.getContextObject(environment);
  if (!context) {
    const known =
      options.kubeConfig
        .getContexts()
        .map((entry) => entry.name)
        .join(', ') || 'none';
    throw new RefitError(
      ErrorTypes.DeploymentFailed,
      `environment "${environment}" has no context of that name in the kubeconfig (contexts: ${known}): add one, or set REFIT_KUBE_ENVIRONMENTS=namespaces`,
    );
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: options.kubeConfig.getClusters(),
    users: options.kubeConfig.getUsers(),
    contexts: options.kubeConfig.getContexts(),
    currentContext: environment,
  });
  const namespace = context.namespace ?? options.namespace;
  return { kubeConfig, context: environment, namespace, where: `namespace "${namespace}" of context "${environment}"` };
}
