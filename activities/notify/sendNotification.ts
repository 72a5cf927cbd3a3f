import type { AutomationModel } from '../../spec/schema/automation.js';
import type { SecretReference } from '../../spec/schema/common.js';
import type { SecretStore } from '../secrets/secretStore.js';

type Notification = NonNullable<AutomationModel['on_error']>;

/** What a notification tells: filled into Slack's text or a custom webhook's body template. */
export interface RunEvent {
  automation: string;
  model_id: string;
  outcome: 'deployed' | 'not_deployed' | 'failed';
  reason: string;
  build_id: string;
  git_commit: string;
  deployed: boolean;
  run_url: string;
  workflow_id: string;
}

export interface Delivery {
  status: number;
  /** Where it went, without any secret part (a Slack URL's token is not shown). */
  target: string;
}

/**
 * Sends one notification. A non-2xx answer or a network error throws, so the activity retries it; the
 * Idempotency-Key lets a receiver that honours it ignore a repeat after a lost answer.
 */
export async function sendNotification(notification: Notification, event: RunEvent, secrets: SecretStore, timeoutMs = 10_000): Promise<Delivery> {
  const resolve = async (value: string | SecretReference) => (typeof value === 'string' ? value : secrets.get(value.secret));
  const idempotencyKey = `${event.workflow_id}:${event.outcome}`;
  let url: string;
  let init: RequestInit;
  if (notification.type === 'SlackNotification') {
    url = await resolve(notification.webhook);
    init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(slackMessage(event)) };
  } else {
    url = await resolve(notification.url);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [name, value] of Object.entries(notification.headers)) headers[name] = await resolve(value);
    const body = notification.data === undefined ? JSON.stringify(event) : fillTemplate(notification.data, event);
    init = { method: notification.http_method, headers, ...(notification.http_method === 'GET' ? {} : { body }) };
  }
  (init.headers as Record<string, string>)['idempotency-key'] = idempotencyKey;
  const target = notification.type === 'SlackNotification' || typeof notification.url !== 'string' ? '(stored webhook)' : new URL(url).origin;
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }).catch((err: unknown) => {
    throw new Error(`the ${notification.type} to ${target} could not be sent: ${(err as Error).message}`);
  });
  if (!response.ok) throw new Error(`the ${notification.type} to ${target} was answered ${response.status} ${response.statusText}`);
  return { status: response.status, target };
}

function slackMessage(event: RunEvent) {
  const icon = event.outcome === 'deployed' ? ':white_check_mark:' : event.outcome === 'failed' ? ':x:' : ':information_source:';
  const title = `${icon} Refit: ${event.automation} (${event.model_id}) ${event.outcome.replace('_', ' ')}`;
  return {
    text: `${title}: ${event.reason}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${event.reason}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `build \`${event.build_id}\` · commit \`${event.git_commit.slice(0, 12) || 'n/a'}\` · <${event.run_url}|run in Temporal>` }] },
    ],
  };
}

/** {{field}} placeholders (validated when the automation was loaded) get the event's values. */
export function fillTemplate(template: string, event: RunEvent): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_match, field: string) => String(event[field as keyof RunEvent] ?? ''));
}
