import { z } from 'zod';
import { SecretReference } from './common.js';

/** Placeholders a notification body may use; they are filled in after the run. */
export const NOTIFICATION_FIELDS = ['automation', 'model_id', 'outcome', 'reason', 'build_id', 'git_commit', 'deployed', 'run_url', 'workflow_id'] as const;

function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return ['http:', 'https:'].includes(url.protocol) ? url : undefined;
  } catch {
    return undefined;
  }
}

const HttpUrl = z
  .string()
  .max(2048, { error: 'must be at most 2048 characters' })
  .refine((text) => httpUrl(text) !== undefined, {
    error: (issue) => `"${String(issue.input)}" is not an http(s) URL`,
  });

/** An http(s) URL without a credential in it (password, or a token in the query). */
const PlainUrl = z
  .string()
  .max(2048, { error: 'must be at most 2048 characters' })
  .superRefine((text, ctx) => {
    const url = httpUrl(text);
    if (!url) {
      ctx.addIssue({ code: 'custom', message: 'is not an http(s) URL' });
    } else if (url.password || /[?&](token|key|secret|sig|signature)=/i.test(url.search)) {
      ctx.addIssue({ code: 'custom', message: 'this URL carries a credential: store it with `refit secrets set <name>` and write { secret: <name> } instead' });
    }
  });

/** Slack's incoming-webhook URLs embed their token, so only a secret reference is accepted for them. */
const SlackWebhook = z.union([SecretReference, HttpUrl], { error: 'must be { secret: <name> } naming the stored webhook URL' }).superRefine((webhook, ctx) => {
  if (typeof webhook === 'string') {
    ctx.addIssue({
      code: 'custom',
      message: 'a Slack webhook URL carries its token: store it with `refit secrets set <name>` and write webhook: { secret: <name> }',
    });
  }
});

export const SlackNotification = z.strictObject({
  type: z.literal('SlackNotification'),
  webhook: SlackWebhook,
});

const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$|token|secret/i;

export const CustomWebhook = z.strictObject({
  type: z.literal('CustomWebhook'),
  url: z.union([SecretReference, PlainUrl], { error: 'must be an http(s) URL or { secret: <name> }' }),
  http_method: z.enum(['GET', 'POST', 'PUT', 'PATCH'], { error: 'must be GET, POST, PUT or PATCH' }).default('POST'),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]{1,128}$/, { error: 'is not an HTTP header name' }),
      z.union([z.string().max(8192, { error: 'must be at most 8192 characters' }), SecretReference], {
        error: 'must be a string, or { secret: <name> } for a credential',
      }),
    )
    .refine((headers) => Object.keys(headers).length <= 50, { error: 'may hold at most 50 headers' })
    .default({})
    .superRefine((headers, ctx) => {
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value === 'string' && SENSITIVE_HEADER.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: `the ${name} header carries a credential: write { secret: <name> } instead of its value` });
        }
      }
    }),
  /** Body template; {{automation}}, {{outcome}}, {{run_url}}… are filled in after the run. */
  data: z
    .string()
    .max(64 * 1024, { error: 'must be at most 65536 characters' })
    .optional()
    .superRefine((data, ctx) => {
      for (const [, field] of (data ?? '').matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)) {
        if (!(NOTIFICATION_FIELDS as readonly string[]).includes(field!)) {
          ctx.addIssue({ code: 'custom', message: `{{${field}}} is not a known placeholder: use ${NOTIFICATION_FIELDS.map((f) => `{{${f}}}`).join(', ')}` });
        }
      }
    }),
});

export const NOTIFICATION_TYPES = ['SlackNotification', 'CustomWebhook'] as const;
export const Notification = z.discriminatedUnion('type', [SlackNotification, CustomWebhook]);
