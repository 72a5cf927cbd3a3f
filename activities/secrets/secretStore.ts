/** Where secrets live. Values are read only inside activities and never returned to workflows. */
export interface SecretStore {
  /** What it is, for messages: "local store (/home/me/.cache/refit/secrets)". */
  readonly description: string;
  get(name: string): Promise<string>;
  set(name: string, value: string): Promise<void>;
  list(): Promise<string[]>;
  /** False when there was no such secret. */
  delete(name: string): Promise<boolean>;
}
