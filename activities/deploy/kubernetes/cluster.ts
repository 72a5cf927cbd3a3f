// The thin layer between the target and one cluster and namespace: server-side apply under one field manager
// (never forced), reads that treat 404 as "absent", and discovery of the optional APIs (KEDA, Gateway API).
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { ErrorTypes, RefitError } from '../../../shared/errors.js';
import type { ClusterFeatures, ObjectRef } from './manifests.js';
import { applyConflict, conflictError } from './ownership.js';

export function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

/** The message of an API error, from its Status body when there is one (client-node's own message says little). */
export function apiErrorMessage(err: unknown): string {
  const { code, body } = err as { code?: number; body?: unknown };
  if (code === undefined) return (err as Error).message ?? String(err);
  if (typeof body === 'string') {
    try {
      return `HTTP ${code}: ${(JSON.parse(body) as { message?: string }).message ?? body.slice(0, 500)}`;
    } catch {
      return `HTTP ${code}: ${body.slice(0, 500)}`;
    }
  }
  return `HTTP ${code}: ${(body as { message?: string } | undefined)?.message ?? 'no details'}`;
}

export class Cluster {
  readonly objects: KubernetesObjectApi;
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly fieldManager: string,
    /** For messages: `namespace "x"` or `context "y", namespace "x"`. */
    readonly where: string,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async read<T extends KubernetesObject>(ref: ObjectRef | KubernetesObject): Promise<T | undefined> {
    const header = {
      apiVersion: ref.apiVersion!,
      kind: ref.kind!,
      metadata: { name: ref.metadata!.name!, namespace: ref.metadata!.namespace ?? this.namespace },
    };
    try {
      return await this.objects.read<T>(header);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Server-side apply without force. A conflict with another field manager becomes a RefitError naming it; a
   * missing namespace an error saying to create it. `dryRun` validates and checks conflicts without changing anything.
   */
  async apply<T extends KubernetesObject>(object: T, options: { dryRun?: boolean } = {}): Promise<T> {
    try {
      return await this.objects.patch(object, undefined, options.dryRun ? 'All' : undefined, this.fieldManager, false, PatchStrategy.ServerSideApply);
    } catch (err) {
      const conflict = applyConflict(err);
      if (conflict) throw conflictError(object, conflict);
      if (isNotFound(err) && (await this.namespaceMissing())) {
        throw new RefitError(
          ErrorTypes.DeploymentFailed,
          `${this.where} does not exist: create it (\`kubectl create namespace ${this.namespace}\`) or deploy to another environment`,
          { cause: err },
        );
      }
      throw new Error(`applying ${object.kind} ${object.metadata?.name} in ${this.where} failed: ${apiErrorMessage(err)}`, { cause: err });
    }
  }

  /** Deletes an object; false when it was not there. */
  async remove(ref: ObjectRef | KubernetesObject): Promise<boolean> {
    try {
      await this.objects.delete({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.metadata!.name, namespace: ref.metadata!.namespace ?? this.namespace },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async readDeployment(name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name, namespace: this.namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async deployments(labelSelector: string): Promise<V1Deployment[]> {
    return (await this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector })).items;
  }

  async replicaSets(labelSelector: string): Promise<V1ReplicaSet[]> {
    return (await this.apps.listNamespacedReplicaSet({ namespace: this.namespace, labelSelector })).items;
  }

  async pods(labelSelector: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector })).items;
  }

  /** Whether the API server serves `plural` in group/version now (discovery, not cached: a CRD may come or go). */
  async serves(group: string, version: string, plural: string): Promise<boolean> {
    try {
      const list = await this.custom.getAPIResources({ group, version });
      return list.resources.some((resource) => resource.name === plural);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async features(): Promise<ClusterFeatures> {
    const [keda, gatewayApi] = await Promise.all([
      this.serves('keda.sh', 'v1alpha1', 'scaledobjects'),
      this.serves('gateway.networking.k8s.io', 'v1', 'httproutes'),
    ]);
    return { keda, gatewayApi };
  }

  private async namespaceMissing(): Promise<boolean> {
    try {
      await this.core.readNamespace({ name: this.namespace });
      return false;
    } catch (err) {
      // Without the right to read namespaces, a 404 on apply still most likely means a missing namespace.
      return isNotFound(err) || (err as { code?: number }).code === 403;
    }
  }
}
