// The secret store a worker reads, and `refit secrets` writes: the same setting (REFIT_SECRET_STORE) for both.
import path from 'node:path';
import { kubernetesModules } from '../deploy/kubernetes/kubernetesModules.js';
import { LocalSecretStore } from './localSecretStore.js';
import type { SecretStore } from './secretStore.js';

/** REFIT_SECRET_STORE: "local" (default, files under $REFIT_HOME/secrets) or "kubernetes" (Secrets in REFIT_SECRETS_NAMESPACE). */
export async function secretStoreFromEnvironment(home: string, env: NodeJS.ProcessEnv = process.env): Promise<SecretStore> {
  const kind = env.REFIT_SECRET_STORE || 'local';
  if (kind === 'local') return new LocalSecretStore(path.join(home, 'secrets'));
  if (kind !== 'kubernetes') throw new Error(`REFIT_SECRET_STORE must be local or kubernetes, not "${kind}"`);
  const { kubeConfigFromEnvironment, kubeNamespace, KubernetesSecretStore } = await kubernetesModules();
  const kubeConfig = kubeConfigFromEnvironment();
  return new KubernetesSecretStore({ kubeConfig, namespace: env.REFIT_SECRETS_NAMESPACE || kubeNamespace(kubeConfig, env) });
}
