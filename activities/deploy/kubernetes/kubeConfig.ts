// The cluster a worker (or the refit command) talks to, from the standard Kubernetes configuration.
import { KubeConfig } from '@kubernetes/client-node';

/** KUBECONFIG, else ~/.kube/config, else the pod's service account. */
export function kubeConfigFromEnvironment(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const cluster = kubeConfig.getCurrentCluster();
  // client-node's last resort when it found nothing at all.
  if (cluster?.name === 'cluster' && cluster.server === 'http://localhost:8080') {
    throw new Error('no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run the worker in a pod with a service account');
  }
  return kubeConfig;
}

/** REFIT_KUBE_NAMESPACE, else the kubeconfig context's namespace, else "default". */
export function kubeNamespace(kubeConfig: KubeConfig, env: NodeJS.ProcessEnv): string {
  return env.REFIT_KUBE_NAMESPACE || kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || 'default';
}
