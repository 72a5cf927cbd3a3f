import { ErrorTypes, RefitError } from '../../shared/errors.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import type { SecretReference } from '../../spec/schema/common.js';
import { useSecret, type SecretStore } from '../secrets/secretStore.js';
import { fillTemplate, type RunEvent } from './bodyTemplate.js';
import { postWebhook, type WebhookPolicy } from './webhookRequest.js';

export { fillTemplate, type RunEvent } from './bodyTemplate.js';
export { DEFAULT_WEBHOOK_POLICY, webhookPolicyFromEnvironment, type WebhookPolicy } from './webhookRequest.js';

type Notification = NonNullable<AutomationModel['on_error']>;

export interface Delivery {
  status: number;
  /** Where it went, without any secret part (a Slack URL's token is not shown). */
  target: string;
}

/**
 * Sends one notification. A non-2xx answer or a network error throws, so the activity retries it; the
 * Idempotency-Key lets a receiver that honours it ignore a repeat after a lost answer. A secret goes only
 * where its scope allows, and nothing goes to link-local (cloud metadata) addresses unless the worker allows it.
 */
export async function sendNotification(
  notification: Notification,
  event: RunEvent,
  secrets: SecretStore,
  options: { timeoutMs?: number; policy?: WebhookPolicy } = {},
): Promise<Delivery> {
  const whom = { automation: event.automation, modelId: event.model_id };
  const urlOf = async (value: string | SecretReference, field: string) =>
    typeof value === 'string' ? value : useSecret(secrets, value.secret, { ...whom, field, destinationIsValue: true });
  const idempotencyKey = `${event.workflow_id}:${event.outcome}`;
  let url: string;
  let method: string;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let body: string | undefined;
  if (notification.type === 'SlackNotification') {
    url = await urlOf(notification.webhook, 'SlackNotification.webhook');
    method = 'POST';
    body = JSON.stringify(slackMessage(event));
  } else {
    url = await urlOf(notification.url, 'CustomWebhook.url');
    method = notification.http_method;
    const secretValues: string[] = [];
    for (const [name, value] of Object.entries(notification.headers)) {
      if (typeof value === 'string') {
        headers[name.toLowerCase()] = value;
      } else {
        const secret = await useSecret(secrets, value.secret, { ...whom, field: `CustomWebhook.headers.${name}`, destination: url });
        secretValues.push(secret);
        headers[name.toLowerCase()] = secret;
      }
    }
    if (method !== 'GET') {
      const json = /json/i.test(headers['content-type'] ?? '');
      body = notification.data === undefined ? JSON.stringify(event) : fillTemplate(notification.data, event, { json });
    }
  }
  headers['idempotency-key'] = idempotencyKey;
  const target = notification.type === 'SlackNotification' || typeof notification.url !== 'string' ? '(stored webhook)' : originOf(url);
  const response = await postWebhook({ url, method, headers, body, timeoutMs: options.timeoutMs ?? 10_000, policy: options.policy, shownAs: target }).catch(
    (err: unknown) => {
      if (err instanceof RefitError) throw err;
      throw new Error(`the ${notification.type} to ${target} could not be sent: ${(err as Error).message}`);
    },
  );
  if (response.status < 200 || response.status > 299)
    throw new Error(`the ${notification.type} to ${target} was answered ${response.status} ${response.statusText}`);
  return { status: response.status, target };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new RefitError(ErrorTypes.InvalidDefinition, 'the webhook URL is not a URL');
  }
}

function slackMessage(event: RunEvent) {
  const icon = event.outcome === 'deployed' ? ':white_check_mark:' : ':x:';
  const title = `${icon} Refit: ${event.automation} (${event.model_id}) ${event.outcome}`;
  return {
    text: `${title}: ${event.reason}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${event.reason}` } },
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `build \`${event.build_id}\` · commit \`${event.git_commit.slice(0, 12) || 'n/a'}\` · <${event.run_url}|run in Temporal>` },
        ],
      },
    ],
  };
}
