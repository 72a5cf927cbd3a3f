import { checkSecretUse, type SecretScope, type SecretUse } from './secretScope.js';

export type { SecretScope, SecretUse } from './secretScope.js';

/**
 * Where secrets live, each with the scope its operator gave it. Values are read only inside activities,
 * only through useSecret (which checks the scope first), and never returned to workflows.
 */
export interface SecretStore {
  /** What it is, for messages: "local store (/home/me/.cache/refit/secrets)". */
  readonly description: string;
  /** The value and its scope; callers that send or hand out the value use useSecret instead. */
  read(name: string): Promise<{ value: string; scope: SecretScope }>;
  /** Stores a value; with a scope, replaces the scope too (without one, an existing scope is kept). */
  set(name: string, value: string, scope?: SecretScope): Promise<void>;
  setScope(name: string, scope: SecretScope): Promise<void>;
  scopeOf(name: string): Promise<SecretScope>;
  list(): Promise<string[]>;
  /** False when there was no such secret. */
  delete(name: string): Promise<boolean>;
}

/** The value of a secret, once its scope allows this use; a RefitError saying how to scope it otherwise. */
export async function useSecret(store: SecretStore, name: string, use: SecretUse): Promise<string> {
  const { value, scope } = await store.read(name);
  checkSecretUse(name, scope, use, value);
  return value;
}
