// The Kubernetes client is ~60 MiB of a worker's memory (~30 MiB of heap), which every fork of a build or a git
// command copies: only a worker that uses a cluster loads it, through this module, which imports it late.

/** The kubeconfig helpers, the Kubernetes deploy target and secret store (each imports the client). */
export async function kubernetesModules() {
  const [config, target, secrets] = await Promise.all([
    import('./kubeConfig.js'),
    import('./kubernetesTarget.js'),
    import('../../secrets/kubernetesSecretStore.js'),
  ]);
  return { ...config, KubernetesDeploymentTarget: target.KubernetesDeploymentTarget, KubernetesSecretStore: secrets.KubernetesSecretStore };
}
