import { z } from 'zod';
import { formatMemory, parseMemory } from '../memory.js';

/** Lower-case letters, digits, "-" and "_" (the seed's own example name has underscores), 1 to 63 long. */
export const Identifier = z.string().regex(/^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/, {
  error: (issue) => `"${String(issue.input)}" must be 1-63 lower-case letters, digits, "-" or "_", starting and ending with a letter or digit`,
});

/** An A/B variation's name: the seed's example uses "B", so upper case is allowed here. */
export const VariationName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/, {
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

/** The most memory a build or a pod may ask for. */
export const MAX_MEMORY_MIB = 4 * 1024 * 1024;

export const Memory = z
  .union([z.string(), z.number()], { error: 'must be a memory size such as "2Gi" or "512Mi", or a number of MiB' })
  .transform((value, ctx) => {
    const parsed = parseMemory(value);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    if (parsed.mib > MAX_MEMORY_MIB) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is more than the most a build or pod may ask for (${formatMemory(MAX_MEMORY_MIB)})` });
      return z.NEVER;
    }
    return formatMemory(parsed.mib);
  });

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Most entries a definition's env_vars may hold, and the longest entry. */
export const MAX_ENV_VARS = 200;
export const MAX_ENV_ENTRY_LENGTH = 32 * 1024;

/**
 * Variables that steer Refit's own processes, the dynamic loader or an interpreter rather than the model:
 * a definition that could set them would run code of its choosing outside the model (a preloaded library, a
 * module on the search path) or change where Refit's helpers look. The few interpreter settings that only
 * tune behaviour are allowed.
 */
const STEERING_KEY =
  /^(REFIT_\w*|LD_\w*|DYLD_\w*|PATH|PYTHON\w*|VIRTUAL_ENV|NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PS4|IFS|GIT_\w*|PERL5?LIB|PERL5OPT|RUBYOPT|RUBYLIB|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|GCONV_PATH|MALLOC_\w*)$/i;
const HARMLESS_PYTHON_KEY = /^PYTHON(HASHSEED|UNBUFFERED|DONTWRITEBYTECODE|IOENCODING|UTF8|FAULTHANDLER)$/;

/** Why a variable may not be set by a definition, or undefined when it may. */
export function steeringKeyProblem(key: string): string | undefined {
  if (!STEERING_KEY.test(key) || HARMLESS_PYTHON_KEY.test(key)) return undefined;
  const what = /^REFIT_/i.test(key)
    ? "it is Refit's own setting, for the worker's operator alone"
    : /^(LD_|DYLD_|GCONV_PATH|MALLOC_)/i.test(key)
      ? 'it steers the dynamic loader, which would run code before the model starts'
      : /^PATH$/i.test(key)
        ? "it decides which programs run; Refit sets it to the model's environment"
        : /^GIT_/i.test(key)
          ? 'it steers git, which Refit runs with the access token'
          : "it changes what the interpreter loads before the model's code";
  return `"${key}" cannot be set by a definition: ${what}`;
}
const SECRET_LIKE_KEY = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)$/i;
export const SECRET_VALUE_PREFIX = 'secret:';

/**
 * Environment variables as the seed writes them: ["KEY=value", ...]. A value "secret:<name>" is read
 * from the secret store when the build or deployment runs; a literal value under a key that names a
 * credential (…_TOKEN, …_PASSWORD) is refused, so no secret is ever written into a definition.
 */
export const EnvVars = z
  .array(
    z.string({ error: 'each entry must be a "KEY=value" string' }).max(MAX_ENV_ENTRY_LENGTH, { error: `must be at most ${MAX_ENV_ENTRY_LENGTH} characters` }),
  )
  .max(MAX_ENV_VARS, { error: `may hold at most ${MAX_ENV_VARS} variables` })
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const equals = entry.indexOf('=');
      if (equals === -1) {
        ctx.addIssue({ code: 'custom', path: [index], message: `"${entry}" has no "=": write "KEY=value"` });
        return;
      }
      const key = entry.slice(0, equals);
      const value = entry.slice(equals + 1);
      const steering = steeringKeyProblem(key);
      if (!ENV_KEY.test(key)) {
        ctx.addIssue({ code: 'custom', path: [index], message: `"${key}" is not a valid variable name (letters, digits and "_", not starting with a digit)` });
      } else if (steering) {
        ctx.addIssue({ code: 'custom', path: [index], message: steering });
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
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `the value of "${key}" looks like a token: store it as a secret and write "${key}=secret:<name>"`,
        });
      }
    });
  });

/** A relative path inside the repository: no leading "/", no "..". */
export const RelativePath = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(1024, { error: 'must be at most 1024 characters' })
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), {
    error: (issue) => `"${String(issue.input)}" must be a path relative to the model folder, without ".."`,
  });

const ARN = /^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
export const IamRoleArn = z.string().regex(ARN, {
  error: (issue) => `"${String(issue.input)}" is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`,
});

export const PositiveInt = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).positive({ error: 'must be greater than 0' });
export const NonNegativeInt = z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).nonnegative({ error: 'must be 0 or more' });

/** A whole number from 1 (or 0) to `max`, with the bound in the message: every count and duration has one. */
export function boundedInt(max: number, options: { min?: 0 | 1; what?: string } = {}) {
  const base = options.min === 0 ? NonNegativeInt : PositiveInt;
  return base.max(max, { error: `must be at most ${max}${options.what ? ` ${options.what}` : ''}` });
}

/** CPU cores: more than 0, at most `max`. */
export function cpuCores(max = 256) {
  return z
    .number({ error: 'must be a number of CPU cores, e.g. 2 or 0.5' })
    .positive({ error: 'must be greater than 0' })
    .max(max, { error: `must be at most ${max} cores` });
}

/** A number given as a number or a numeric string ("0.7"): finite, as thresholds must be. */
export const NumberLike = z
  .union([z.number(), z.string().regex(/^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/, { error: 'must be a number' })], { error: 'must be a number' })
  .transform(Number)
  .refine(Number.isFinite, { error: 'must be a finite number' });
