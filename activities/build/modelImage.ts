// A finished local build as an OCI image a cluster can run: Refit's Python runtime image, then a layer with
// the model's dependencies (the build's own environment, shared by every build with the same dependency
// file), then a small layer with the trained artifact. Pushed with crane (go-containerregistry), which
// uploads only the layers the registry lacks, so a second build with unchanged dependencies sends only the
// artifact's bytes. Builds that run on the cluster itself are the kubernetes build runner's (not this).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { ARTIFACT_PATH, imageOf } from '../deploy/kubernetes/workload.js';

const run = promisify(execFile);

/** Labels Refit's runtime image carries (scripts/build-runtime-image.sh). */
export const RUNTIME_LABELS = { python: 'dev.refit.python', sitePackages: 'dev.refit.site-packages' } as const;

export interface ImagePublishing {
  /** The crane binary. */
  crane: string;
  /** Refit's runtime image, which every model image starts from. */
  baseImage: string;
  /** Images are `<repository>/<model_id>:<build_id>`, dependency layers `<repository>/<model_id>:deps-<hash>`. */
  repository: string;
}

export interface ModelImageRequest {
  publishing: ImagePublishing;
  modelId: string;
  buildId: string;
  /** The build's artifact folder (refit_sdk.build's output). */
  artifactDir: string;
  /** The build's virtual environment: its site-packages is the dependency layer; its name, that layer's key. */
  environmentDir: string;
  /** The worker interpreter's version, which built the environment ("3.11.2 (main, ...)"). */
  pythonVersion: string;
  /** Scratch space for the layers' tarballs (removed afterwards). */
  workDir: string;
  signal?: AbortSignal;
  onProgress?: (what: string) => void;
}

export interface ModelImage {
  /** `<repository>/<model_id>:<build_id>` */
  reference: string;
  /** The manifest's digest (sha256:...). */
  digest: string;
  /** `<repository>/<model_id>@<digest>`: what the deploy runs, so that a tag moved later changes nothing. */
  pinned: string;
  /** Whether this build pushed the dependency layer or found it in the registry. */
  dependencies: 'pushed' | 'reused';
}

async function crane(request: ModelImageRequest, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(request.publishing.crane, args, { maxBuffer: 16 << 20, signal: request.signal });
    return stdout.trim();
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`crane ${args[0]} failed: ${detail}`, { cause: err });
  }
}

function digestOf(request: ModelImageRequest, reference: string): Promise<string | undefined> {
  return crane(request, ['digest', reference]).then(
    (digest) => digest,
    () => undefined,
  );
}

/** A layer of `dir`'s contents under `at` in the image, owned by root, with stable metadata. */
async function layerTar(dir: string, at: string, file: string, signal?: AbortSignal): Promise<void> {
  const inside = at.replace(/^\/+/, '');
  await run(
    'tar',
    [
      '--create',
      '--file',
      file,
      '--directory',
      dir,
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      `--transform=s,^\\.,./${inside},`,
      '.',
    ],
    { signal, maxBuffer: 1 << 20 },
  );
}

/** Where the runtime image's Python takes packages from, after checking that it can run what this worker built. */
async function sitePackagesOf(request: ModelImageRequest): Promise<string> {
  const config = JSON.parse(await crane(request, ['config', request.publishing.baseImage])) as { config?: { Labels?: Record<string, string> } };
  const labels = config.config?.Labels ?? {};
  const imagePython = labels[RUNTIME_LABELS.python];
  const sitePackages = labels[RUNTIME_LABELS.sitePackages];
  if (!imagePython || !sitePackages) {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      `the runtime image ${request.publishing.baseImage} is not Refit's (it lacks the labels ${Object.values(RUNTIME_LABELS).join(' and ')}): ` +
        'set REFIT_RUNTIME_IMAGE to the image scripts/build-runtime-image.sh makes',
    );
  }
  const workerPython = request.pythonVersion.split(' ')[0]!.split('.').slice(0, 2).join('.');
  if (workerPython !== imagePython) {
    throw new RefitError(
      ErrorTypes.InvalidDefinition,
      `the model's environment was built with Python ${workerPython} on the worker, and the runtime image ${request.publishing.baseImage} has Python ${imagePython}: ` +
        `compiled packages would not load there. Run the worker with a Python ${imagePython} (REFIT_PYTHON), or use a runtime image with Python ${workerPython}`,
    );
  }
  return sitePackages;
}

function environmentSitePackages(environmentDir: string): string {
  const lib = path.join(environmentDir, 'lib');
  const version = existsSync(lib) ? readdirSync(lib).find((name) => /^python3\.\d+$/.test(name)) : undefined;
  const dir = version && path.join(lib, version, 'site-packages');
  if (!dir || !statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`the build's environment ${environmentDir} has no lib/python3.*/site-packages`);
  return dir;
}

/**
 * Pushes `<repository>/<model_id>:<build_id>` (an image that already exists, from an earlier attempt of this
 * activity, is kept as it is) and returns its digest, which the deploy runs.
 */
export async function publishModelImage(request: ModelImageRequest): Promise<ModelImage> {
  const { repository } = request.publishing;
  const reference = imageOf(repository, request.modelId, request.buildId);
  const existing = await digestOf(request, reference);
  const pinned = (digest: string) => `${repository}/${request.modelId}@${digest}`;
  if (existing) return { reference, digest: existing, pinned: pinned(existing), dependencies: 'reused' };

  const sitePackages = await sitePackagesOf(request);
  const work = mkdtempSync(path.join(request.workDir, 'image-'));
  try {
    // The environment's folder name is the hash of the model, the interpreter and the dependency file.
    const dependencies = `${repository}/${request.modelId}:deps-${path.basename(request.environmentDir)}`;
    let pushedDependencies: ModelImage['dependencies'] = 'reused';
    if (!(await digestOf(request, dependencies))) {
      request.onProgress?.(`pushing the dependency layer ${dependencies}`);
      const layer = path.join(work, 'dependencies.tar');
      await layerTar(environmentSitePackages(request.environmentDir), sitePackages, layer, request.signal);
      await crane(request, ['append', '--base', request.publishing.baseImage, '--new_layer', layer, '--new_tag', dependencies]);
      pushedDependencies = 'pushed';
    }
    request.onProgress?.(`pushing the model layer ${reference}`);
    const layer = path.join(work, 'artifact.tar');
    await layerTar(request.artifactDir, ARTIFACT_PATH, layer, request.signal);
    await crane(request, ['append', '--base', dependencies, '--new_layer', layer, '--new_tag', reference]);
    const digest = await digestOf(request, reference);
    if (!digest) throw new Error(`the registry does not show ${reference} after pushing it`);
    return { reference, digest, pinned: pinned(digest), dependencies: pushedDependencies };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
