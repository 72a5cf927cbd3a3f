import { z } from 'zod';
import { formatMemory, parseMemory } from '../memory.js';

/** Lower-case letters, digits, "-" and "_" (the seed's own example name has underscores), 1 to 63 long. */
export const Identifier = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/, {
    error: (issue) =>
      `"${String(issue.input)}" must be 1-63 lower-case letters, digits, "-" or "_", starting and ending with a letter or digit`,
  });

/** An A/B variation's name: the seed's example uses "B", so upper case is allowed here. */
export const VariationName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/, {
    error: (issue) => `"${String(issue.input)}" must be 1-63 letters, digits, "-" or "_", starting and ending with a letter or digit`,
  });

/** The name of a secret in the secret store. Never the secret's value. */
export const SecretName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/, {
    error: (issue) => `"${String(issue.input)}" is not a secret name (letters, digits, ".", "_" and "-")`,
  })
  .refine((name) => !looksLikeATokenValue(name), {
    error: 'this looks like a token itself, not the name of a secret: store it with `refit secrets set <name>` and write the name here',
  });

/** Known shapes of access tokens, so a value pasted where a secret's name belongs is caught. */
export function looksLikeATokenValue(text: string): boolean {
  return /^(ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|xox[abpr]-|sk-|AKIA)[A-Za-z0-9_-]{8,}/.test(text) || /^[A-Fa-f0-9]{40,}$/.test(text);
}

/** A reference to a secret in a field that could otherwise hold a credential: `{ secret: "name" }`. */
export const SecretReference = z.strictObject({ secret: SecretName });
export type SecretReference = z.infer<typeof SecretReference>;

export const ThresholdDirection = z
  .enum(['ABOVE', 'BELOW', 'above', 'below'], { error: (issue) => `must be ABOVE or BELOW, not ${JSON.stringify(issue.input)}` })
  .transform((direction) => direction.toUpperCase() as 'ABOVE' | 'BELOW');

export const Memory = z
  .union([z.string(), z.number()], { error: 'must be a memory size such as "2Gi" or "512Mi", or a number of MiB' })
  .transform((value, ctx) => {
    const parsed = parseMemory(value);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    return formatMemory(parsed.mib);
  });

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_LIKE_KEY = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)$/i;
export const SECRET_VALUE_PREFIX = 'secret:';

/**
 * Environment variables as the seed writes them: ["KEY=value", ...]. A value "secret:<name>" is read
 * from the secret store when the build or deployment runs; a literal value under a key that names a
 * credential (…_TOKEN, …_PASSWORD) is refused, so no secret is ever written into a definition.
 */
export const EnvVars = z.array(z.string({ error: 'each entry must be a "KEY=value" string' })).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const equals = entry.indexOf('=');
    if (equals === -1) {
      ctx.addIssue({ code: 'custom', path: [index], message: `"${entry}" has no "=": write "KEY=value"` });
      return;
    }
    const key = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    if (!ENV_KEY.test(key)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `"${key}" is not a valid variable name (letters, digits and "_", not starting with a digit)` });
    } else if (seen.has(key)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `"${key}" is set twice (first at [${seen.get(key)}])` });
    } else {
      seen.set(key, index);
    }
    if (value.startsWith(SECRET_VALUE_PREFIX)) {
      const parsed = SecretName.safeParse(value.slice(SECRET_VALUE_PREFIX.length));
      if (!parsed.success) ctx.addIssue({ code: 'custom', path: [index], message: `${key}: ${parsed.error.issues[0]!.message}` });
    } else if (SECRET_LIKE_KEY.test(key) && value !== '') {
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: `"${key}" names a credential but holds a literal value: store it with \`refit secrets set <name>\` and write "${key}=secret:<name>"`,
      });
    } else if (looksLikeATokenValue(value)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `the value of "${key}" looks like a token: store it as a secret and write "${key}=secret:<name>"` });
    }
  });
});

/** A relative path inside the repository: no leading "/", no "..". */
export const RelativePath = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), {
    error: (issue) => `"${String(issue.input)}" must be a path relative to the model folder, without ".."`,
  });

const ARN = /^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
export const IamRoleArn = z.string().regex(ARN, {
  error: (issue) => `"${String(issue.input)}" is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`,
});

export const PositiveInt = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).positive({ error: 'must be greater than 0' });
export const NonNegativeInt = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).nonnegative({ error: 'must be 0 or more' });
