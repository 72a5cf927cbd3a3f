// Kubeconfigs for the local cluster's users: the admin (tests, `kubectl`, the worker) and each component.
import { readFileSync, writeFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { KeyPair } from './pki.js';

export const CLUSTER_NAME = 'refit-local';

/** A kubeconfig with the certificates inline, so that it can be copied elsewhere and still work. */
export function kubeConfigFor(server: string, caFile: string, user: KeyPair & { name: string }, namespace?: string): KubeConfig {
  const base64 = (file: string) => readFileSync(file).toString('base64');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: CLUSTER_NAME, server, caData: base64(caFile), skipTLSVerify: false }],
    users: [{ name: user.name, certData: base64(user.cert), keyData: base64(user.key) }],
    contexts: [{ name: CLUSTER_NAME, cluster: CLUSTER_NAME, user: user.name, namespace }],
    currentContext: CLUSTER_NAME,
  });
  return kubeConfig;
}

export function writeKubeconfig(file: string, kubeConfig: KubeConfig): string {
  writeFileSync(file, kubeConfig.exportConfig(), { mode: 0o600 });
  return file;
}
