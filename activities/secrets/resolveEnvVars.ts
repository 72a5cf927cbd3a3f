import { SECRET_VALUE_PREFIX } from '../../spec/schema/common.js';
import { useSecret, type SecretStore } from './secretStore.js';

/** Who the variables are for: a secret goes only to the automations (or models) its scope names. */
export interface EnvVarsFor {
  automation: string;
  modelId: string;
  /** Where the entries come from, for messages: "build_spec.env_vars", "refit.yaml secrets". */
  field: string;
}

/**
 * Turns a definition's ["KEY=value", "KEY=secret:name"] into environment variables, reading each named
 * secret from the store once its scope allows it. `onSecret` hears every secret value, so callers can keep
 * them out of logs and messages.
 */
export async function resolveEnvVars(
  entries: string[],
  secrets: SecretStore,
  whom: EnvVarsFor,
  onSecret: (value: string) => void = () => undefined,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    const key = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    if (value.startsWith(SECRET_VALUE_PREFIX)) {
      const secret = await useSecret(secrets, value.slice(SECRET_VALUE_PREFIX.length), { ...whom, field: `${whom.field} (${key})` });
      env[key] = secret;
      onSecret(secret);
    } else {
      env[key] = value;
    }
  }
  return env;
}
