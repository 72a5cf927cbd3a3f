// Every secret a run of an automation will ask for, with the use it will be asked for (field, destination), so that
// `refit plan --run` can say before the run which are missing or out of scope, as the run itself would find them.
import { parseGitUri } from '../../spec/gitUri.js';
import { SECRET_VALUE_PREFIX } from '../../spec/schema/common.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { checkSecretUse, type SecretUse } from './secretScope.js';
import type { SecretStore } from './secretStore.js';

export interface RunSecret {
  name: string;
  use: SecretUse;
}

export function secretsOfRun(automation: AutomationModel, options: { plainHttpHosts?: string[] } = {}): RunSecret[] {
  const whom = { automation: automation.name, modelId: automation.model_id };
  const { build_spec: build, deployment_spec: deploy } = automation.action;
  const found: RunSecret[] = [];
  if (build.git_access_token_secret) {
    const location = parseGitUri(build.git_uri);
    // A git_uri that does not parse is the clone step's to report; the secret then goes nowhere.
    if (!('error' in location))
      found.push({
        name: build.git_access_token_secret,
        use: {
          ...whom,
          field: 'git_access_token_secret',
          destination: location.repository,
          plainHttpAllowed: location.scheme === 'http' && (options.plainHttpHosts ?? []).includes(location.host),
        },
      });
  }
  const fromEnv = (entries: string[], field: string) => {
    for (const entry of entries) {
      const value = entry.slice(entry.indexOf('=') + 1);
      if (value.startsWith(SECRET_VALUE_PREFIX))
        found.push({ name: value.slice(SECRET_VALUE_PREFIX.length), use: { ...whom, field: `${field} (${entry.slice(0, entry.indexOf('='))})` } });
    }
  };
  fromEnv(build.env_vars, 'build_spec.env_vars');
  fromEnv(deploy.env_vars, 'deployment_spec.env_vars');
  for (const event of ['on_success', 'on_error'] as const) {
    const notification = automation[event];
    if (!notification) continue;
    if (notification.type === 'SlackNotification' && typeof notification.webhook === 'object') {
      found.push({ name: notification.webhook.secret, use: { ...whom, field: `${event}.webhook`, destinationIsValue: true } });
    }
    if (notification.type === 'CustomWebhook') {
      if (typeof notification.url === 'object')
        found.push({ name: notification.url.secret, use: { ...whom, field: `${event}.url`, destinationIsValue: true } });
      for (const [header, value] of Object.entries(notification.headers)) {
        if (typeof value === 'object') {
          found.push({
            name: value.secret,
            use: { ...whom, field: `${event}.headers.${header}`, ...(typeof notification.url === 'string' ? { destination: notification.url } : {}) },
          });
        }
      }
    }
  }
  return found;
}

/** One sentence per secret the run would not get, and why; empty when every one is there and in scope. */
export async function checkRunSecrets(store: SecretStore, secrets: RunSecret[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { name, use } of secrets) {
    let read: Awaited<ReturnType<SecretStore['read']>>;
    try {
      read = await store.read(name);
    } catch (err) {
      const missing = err instanceof RefitError && err.type === ErrorTypes.SecretNotFound;
      problems.push(
        missing ? `${use.field}: secret "${name}" is not in ${store.description} (refit secrets set ${name})` : `${use.field}: ${(err as Error).message}`,
      );
      continue;
    }
    try {
      checkSecretUse(name, read.scope, use, read.value);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}
