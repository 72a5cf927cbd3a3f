// env_vars that name secrets ("KEY=secret:<name>") become secretKeyRefs to Kubernetes Secrets in the
// deployment's namespace. Before anything is applied, each Secret must exist there, and the key holding
// its value is found the way the Kubernetes secret store finds it: "value", or the Secret's only key.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import { checkSecretUse } from '../../secrets/secretScope.js';
import { ANNOTATIONS, secretObjectName } from './names.js';
import { missingSecretHelp, scopeOf, valueKeyOf } from './secretObjects.js';
import type { Release } from './servingRecord.js';
import { referencedSecrets } from './workload.js';

/**
 * Refit secret name -> key in its Kubernetes Secret, for every secret the release's env_vars name. The
 * model server reads each value itself, so each Secret's scope must name the release's automation (or
 * model): otherwise any automation could hand itself any Secret of the namespace.
 */
export async function secretKeysFor(
  core: CoreV1Api,
  namespace: string,
  release: Pick<Release, 'automation' | 'modelId' | 'spec'>,
): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const name of new Set(referencedSecrets(release.spec.env_vars))) {
    const objectName = secretObjectName(name);
    let secret: V1Secret;
    try {
      secret = await core.readNamespacedSecret({ name: objectName, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `env_vars refer to secret "${name}", and namespace "${namespace}" has no Secret "${objectName}": ${missingSecretHelp(name, namespace)}`,
      );
    }
    const recorded = secret.metadata?.annotations?.[ANNOTATIONS.secretName];
    if (recorded && recorded !== name) {
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `the Secret "${objectName}" in namespace "${namespace}" holds secret "${recorded}", not "${name}": rename one of them`,
      );
    }
    try {
      checkSecretUse(name, scopeOf(secret), { automation: release.automation, modelId: release.modelId, field: 'deployment_spec.env_vars' });
    } catch (err) {
      throw new RefitError(
        ErrorTypes.SecretOutOfScope,
        `${(err as Error).message} (for a Secret made with kubectl: \`kubectl annotate secret ${objectName} --namespace ${namespace} ${ANNOTATIONS.secretAutomations}=${release.automation}\`)`,
      );
    }
    const found = valueKeyOf(secret);
    if ('error' in found)
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `the Secret "${objectName}" in namespace "${namespace}" ${found.error}: ${missingSecretHelp(name, namespace)}`,
      );
    keys[name] = found.key;
  }
  return keys;
}
