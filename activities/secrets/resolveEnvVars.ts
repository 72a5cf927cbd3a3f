import { SECRET_VALUE_PREFIX } from '../../spec/schema/common.js';
import type { SecretStore } from './secretStore.js';

/**
 * Turns a definition's ["KEY=value", "KEY=secret:name"] into environment variables, reading each named
 * secret from the store. `onSecret` hears every secret value, so callers can keep them out of messages.
 */
export async function resolveEnvVars(entries: string[], secrets: SecretStore, onSecret: (value: string) => void = () => undefined): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    const key = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    if (value.startsWith(SECRET_VALUE_PREFIX)) {
      env[key] = await secrets.get(value.slice(SECRET_VALUE_PREFIX.length));
      onSecret(env[key]);
    } else {
      env[key] = value;
    }
  }
  return env;
}
