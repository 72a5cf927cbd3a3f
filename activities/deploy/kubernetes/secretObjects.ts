// What a Kubernetes Secret holds for Refit: its value (in "value", or in its only key) and its scope (in
// annotations, so that `kubectl annotate` can scope a Secret made without Refit too).
import type { V1Secret } from '@kubernetes/client-node';
import type { SecretScope } from '../../secrets/secretScope.js';
import { ANNOTATIONS, secretObjectName } from './names.js';

export const VALUE_KEY = 'value';

/** The key of a Secret's value, or a message saying why there is none. */
export function valueKeyOf(secret: V1Secret): { key: string } | { error: string } {
  const keys = Object.keys({ ...secret.data, ...secret.stringData }).sort();
  if (keys.includes(VALUE_KEY)) return { key: VALUE_KEY };
  if (keys.length === 1) return { key: keys[0]! };
  return { error: keys.length ? `has keys ${keys.join(', ')} but none named "${VALUE_KEY}"` : 'holds no value' };
}

export function missingSecretHelp(name: string, namespace: string): string {
  return `create it with \`kubectl create secret generic ${secretObjectName(name)} --namespace ${namespace} --from-literal=${VALUE_KEY}=...\``;
}

/** The annotations that hold a scope. */
export function scopeAnnotations(scope: SecretScope): Record<string, string> {
  return { [ANNOTATIONS.secretHosts]: scope.hosts.join(','), [ANNOTATIONS.secretAutomations]: scope.automations.join(',') };
}

/** A Secret's scope, from its annotations (none: loopback only, no build). */
export function scopeOf(secret: V1Secret): SecretScope {
  const list = (key: string) =>
    (secret.metadata?.annotations?.[key] ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  return { hosts: list(ANNOTATIONS.secretHosts), automations: list(ANNOTATIONS.secretAutomations) };
}
