import { z } from 'zod';
import { parseGitUri } from '../gitUri.js';
import { GPU_TYPES, INSTANCE_SIZES } from '../instanceSizes.js';
import { closest } from '../suggest.js';
import { boundedInt, cpuCores, EnvVars, IamRoleArn, Memory, RelativePath, SecretName } from './common.js';

export const CpuResources = z.strictObject({
  type: z.literal('CpuResources'),
  cpu_fraction: cpuCores(),
  memory: Memory,
});

export const GpuResources = z.strictObject({
  type: z.literal('GpuResources'),
  gpu_type: z.enum(GPU_TYPES, { error: (issue) => `"${String(issue.input)}" is not a GPU type: one of ${GPU_TYPES.join(', ')}` }),
  gpu_amount: boundedInt(16, { what: 'GPUs' }),
});

export const ClientResources = z.strictObject({
  type: z.literal('ClientResources'),
  instance: z.string().refine((instance) => Object.hasOwn(INSTANCE_SIZES, instance), {
    error: (issue) => {
      const suggestion = closest(String(issue.input), Object.keys(INSTANCE_SIZES));
      return `"${String(issue.input)}" is not an instance size${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; see the table of sizes in the README`;
    },
  }),
});

export const Resources = z.discriminatedUnion('type', [CpuResources, GpuResources, ClientResources]);

const GitUri = z.string({ error: 'must be a repository URL string' }).superRefine((uri, ctx) => {
  const parsed = parseGitUri(uri);
  if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
});

// git check-ref-format's rules.
const GitBranch = z.string().regex(/^(?!\/|.*\/$|.*\/\/|.*\.\.|.*@\{|.*\.lock$)(?!.*\p{Cc})[^\s~^:?*[\\]+$/u, {
  error: (issue) => `"${String(issue.input)}" is not a valid git branch name`,
});

// Docker image reference: [registry[:port]/]name[:tag][@digest]
const ImageReference = z.string().regex(/^[a-z0-9]+([._\-/:][a-zA-Z0-9]+)*(:[\w.-]{1,128})?(@sha256:[a-f0-9]{64})?$/, {
  error: (issue) => `"${String(issue.input)}" is not a container image reference (e.g. "python:3.11-slim")`,
});

/** Where the model's code is and how to build it. */
export const BuildSpecifications = z.strictObject({
  git_uri: GitUri,
  git_access_token_secret: SecretName.optional(),
  git_branch: GitBranch.default('main'),
  main_dir: RelativePath.default('main'),
  tags: z
    .array(z.string().regex(/^[\w.:/-]{1,128}$/, { error: (issue) => `"${String(issue.input)}" is not a tag (letters, digits, "_", ".", ":", "/", "-")` }))
    .max(50, { error: 'may hold at most 50 tags' })
    .default([]),
  env_vars: EnvVars.default([]),
  resources: Resources.optional(),
  assumed_iam_role: IamRoleArn.optional(),
  base_image: ImageReference.optional(),
  push_image: z.boolean({ error: 'must be true or false' }).default(true),
  parameters: z
    .record(
      z.string().regex(/^[A-Za-z_][\w.-]*$/, { error: (issue) => `"${String(issue.input)}" is not a parameter name` }),
      z.union([z.string().max(4096, { error: 'must be at most 4096 characters' }), z.number(), z.boolean()], {
        error: 'must be a string, a number or a boolean',
      }),
      { error: 'must map names to strings, numbers or booleans' },
    )
    .refine((parameters) => Object.keys(parameters).length <= 200, { error: 'may hold at most 200 parameters' })
    .default({}),
  dependency_file_path: RelativePath.optional(),
  /**
   * The secrets the model repository's own refit.yaml may ask for (its `secrets:`); it can name no others.
   * Each must also be scoped to this automation by the worker's operator.
   */
  secrets: z.array(SecretName).max(50, { error: 'may hold at most 50 secrets' }).default([]),
});
