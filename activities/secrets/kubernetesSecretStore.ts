import { CoreV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { ANNOTATIONS, LABELS, MANAGED_BY, secretObjectName } from '../deploy/kubernetes/names.js';
import { missingSecretHelp, scopeAnnotations, scopeOf, valueKeyOf, VALUE_KEY } from '../deploy/kubernetes/secretObjects.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { SecretName } from '../../spec/schema/common.js';
import { NO_SCOPE, type SecretScope } from './secretScope.js';
import type { SecretStore } from './secretStore.js';

export interface KubernetesSecretStoreOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  fieldManager?: string;
}

/**
 * Secrets as Kubernetes Secrets in one namespace: the Secret named as the Refit secret (lower case, "-" for
 * "_"), its value in the key "value" or in its only key, so a Secret made with `kubectl create secret generic`
 * works as it is; its scope in the annotations refit.dev/secret-hosts and refit.dev/secret-automations. The
 * Secrets Refit writes carry a label, and only those are listed, replaced, re-scoped or deleted.
 */
export class KubernetesSecretStore implements SecretStore {
  readonly description: string;
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(private readonly options: KubernetesSecretStoreOptions) {
    this.description = `Kubernetes secret store (namespace ${options.namespace})`;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(options.kubeConfig);
  }

  async read(name: string): Promise<{ value: string; scope: SecretScope }> {
    const secret = await this.fetch(name);
    if (!secret)
      throw new RefitError(ErrorTypes.SecretNotFound, `secret "${name}" is not in the ${this.description}: ${missingSecretHelp(name, this.options.namespace)}`);
    return { value: this.valueOf(secret, name), scope: scopeOf(secret) };
  }

  /** The value alone, unchecked: for the store's own tests and tools. */
  async get(name: string): Promise<string> {
    return (await this.read(name)).value;
  }

  async scopeOf(name: string): Promise<SecretScope> {
    const secret = await this.fetch(name);
    return secret ? scopeOf(secret) : NO_SCOPE;
  }

  async setScope(name: string, scope: SecretScope): Promise<void> {
    const existing = await this.fetch(name);
    if (!existing)
      throw new RefitError(ErrorTypes.SecretNotFound, `secret "${name}" is not in the ${this.description}: add it with \`refit secrets set ${name}\``);
    this.checkHolds(existing, name);
    this.checkOurs(existing, name, 'scope');
    await this.core.patchNamespacedSecret(
      { name: secretObjectName(name), namespace: this.options.namespace, body: { metadata: { annotations: scopeAnnotations(scope) } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private valueOf(secret: V1Secret, name: string): string {
    this.checkHolds(secret, name);
    const found = valueKeyOf(secret);
    if ('error' in found) {
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `the Secret "${secret.metadata?.name}" (secret "${name}" in the ${this.description}) ${found.error}: ${missingSecretHelp(name, this.options.namespace)}`,
      );
    }
    const value =
      secret.data?.[found.key] !== undefined ? Buffer.from(secret.data[found.key]!, 'base64').toString('utf8') : (secret.stringData?.[found.key] ?? '');
    return value.replace(/\r?\n$/, '');
  }

  async set(name: string, value: string, scope?: SecretScope): Promise<void> {
    this.check(name);
    if (!value) throw new Error(`the value of secret "${name}" is empty`);
    const existing = await this.fetch(name);
    if (existing) {
      this.checkHolds(existing, name);
      this.checkOurs(existing, name, 'replace');
    }
    const kept = scope ?? (existing ? scopeOf(existing) : NO_SCOPE);
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: secretObjectName(name),
        namespace: this.options.namespace,
        labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.secret]: 'true' },
        annotations: { [ANNOTATIONS.secretName]: name, ...scopeAnnotations(kept) },
      },
      data: { [VALUE_KEY]: Buffer.from(value, 'utf8').toString('base64') },
    };
    await this.objects.patch(secret, undefined, undefined, this.options.fieldManager ?? MANAGED_BY, false, PatchStrategy.ServerSideApply);
  }

  async list(): Promise<string[]> {
    const { items } = await this.core.listNamespacedSecret({ namespace: this.options.namespace, labelSelector: `${LABELS.secret}=true` });
    return items
      .map((secret) => secret.metadata?.annotations?.[ANNOTATIONS.secretName] ?? secret.metadata?.name ?? '')
      .filter(Boolean)
      .sort();
  }

  async delete(name: string): Promise<boolean> {
    this.check(name);
    const existing = await this.fetch(name);
    if (!existing) return false;
    this.checkHolds(existing, name);
    this.checkOurs(existing, name, 'delete');
    try {
      await this.core.deleteNamespacedSecret({ name: secretObjectName(name), namespace: this.options.namespace });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  private async fetch(name: string): Promise<V1Secret | undefined> {
    this.check(name);
    try {
      return await this.core.readNamespacedSecret({ name: secretObjectName(name), namespace: this.options.namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  private check(name: string): void {
    const parsed = SecretName.safeParse(name);
    if (!parsed.success) throw new Error(`"${name}" is not a secret name: ${parsed.error.issues[0]?.message}`);
  }

  /** Two Refit names can map to one Kubernetes name ("A_b", "a-b"): the annotation says which one a Secret holds. */
  private checkHolds(secret: V1Secret, name: string): void {
    const holds = secret.metadata?.annotations?.[ANNOTATIONS.secretName];
    if (holds && holds !== name) {
      throw new RefitError(
        ErrorTypes.SecretNotFound,
        `the Secret "${secret.metadata?.name}" in the ${this.description} holds secret "${holds}", not "${name}": rename one of them`,
      );
    }
  }

  private checkOurs(secret: V1Secret, name: string, action: string): void {
    if (secret.metadata?.labels?.[LABELS.secret] !== 'true') {
      throw new Error(
        `the Secret "${secret.metadata?.name}" (secret "${name}") in the ${this.description} was not made by Refit, so Refit does not ${action} it: ` +
          `change it with kubectl (\`kubectl ${action === 'delete' ? 'delete secret' : 'edit secret'} ${secret.metadata?.name} --namespace ${this.options.namespace}\`)`,
      );
    }
  }
}
