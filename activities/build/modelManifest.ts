import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { SecretName, steeringKeyProblem } from '../../spec/schema/common.js';
import { describeProblem } from '../../spec/validate.js';
import { pathInside, readOwnFile } from './confinedPath.js';

/**
 * `refit.yaml` in a model's folder (the one holding main/ and tests/) says how to build it when the
 * defaults do not fit. Without it: a Python model whose main/model.py defines a RefitModel, its
 * dependencies in main/requirements.txt, requirements.txt or pyproject.toml, and its tests in tests/.
 */
export const ModelManifest = z.strictObject({
  /** The dependency file, relative to the model folder (build_spec.dependency_file_path wins over it). */
  dependencies: z.string().optional(),
  /** Command that runs the tests, from the model folder; default: pytest if installed, else unittest. */
  test_command: z.array(z.string()).min(1).optional(),
  /** The RefitModel subclass to build when main/model.py defines several. */
  model_class: z.string().optional(),
  /** Secrets the build needs, as environment variable → secret name. */
  secrets: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'is not an environment variable name' }), SecretName)
    .superRefine((secrets, ctx) => {
      for (const key of Object.keys(secrets)) {
        const problem = steeringKeyProblem(key);
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    })
    .default({}),
});

export type ModelManifest = z.infer<typeof ModelManifest>;

export const MANIFEST_FILE = 'refit.yaml';

export function readModelManifest(modelDir: string): ModelManifest {
  const file = path.join(modelDir, MANIFEST_FILE);
  if (!existsSync(file)) return ModelManifest.parse({});
  const text = readOwnFile(file, 256 * 1024, `${MANIFEST_FILE} in the model folder`);
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // The parser's message quotes the file, which is the repository's own: only its first line is kept.
    throw new RefitError(ErrorTypes.InvalidDefinition, `${MANIFEST_FILE} in the model folder is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = ModelManifest.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeProblem({ path: issue.path.map(String), message: issue.message, severity: 'error' }));
    throw new RefitError(ErrorTypes.InvalidDefinition, `${MANIFEST_FILE} in the model folder: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The dependency file to install: the automation's, the manifest's, or the first conventional one. */
export function findDependencyFile(modelDir: string, mainDir: string, fromAutomation: string | undefined, manifest: ModelManifest): string | undefined {
  const explicit = fromAutomation ?? manifest.dependencies;
  if (explicit) {
    const file = pathInside(modelDir, explicit, fromAutomation ? 'dependency_file_path' : `${MANIFEST_FILE} dependencies`);
    if (!existsSync(file)) {
      throw new RefitError(ErrorTypes.ModelFolderNotFound, `the dependency file "${explicit}" (dependency_file_path) does not exist in the model folder`);
    }
    return file;
  }
  return [path.join(mainDir, 'requirements.txt'), 'requirements.txt', 'pyproject.toml']
    .filter((candidate) => existsSync(path.join(modelDir, candidate)))
    .map((candidate) => pathInside(modelDir, candidate, 'the dependency file'))[0];
}
