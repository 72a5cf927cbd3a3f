// Model images for pods on the test node, made the way a build system pushes them: Refit's Python runtime
// image plus one layer with a built artifact at ARTIFACT_PATH (the image contract in workload.ts). One
// artifact of test/fixtures/models/probe serves every test: a model's name and build come from the server's
// arguments, so each `<model>:<build>` is the same image under another name (a copy within the registry, which
// moves no layer).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ARTIFACT_PATH } from '../../activities/deploy/kubernetes/workload.js';
import { packageRoot } from '../../platform/paths.js';
import type { testNode } from './kubernetes.js';

const run = promisify(execFile);
type TestNode = ReturnType<typeof testNode>;

export const PROBE_MODEL_DIR = path.join(packageRoot(), 'test', 'fixtures', 'models', 'probe');

async function crane(node: TestNode, args: string[]): Promise<string> {
  try {
    return (await run(path.join(node.bin, 'crane'), args, { maxBuffer: 1 << 20 })).stdout.trim();
  } catch (err) {
    throw new Error(`crane ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  }
}

async function exists(node: TestNode, reference: string): Promise<boolean> {
  return crane(node, ['digest', reference]).then(
    () => true,
    () => false,
  );
}

/** The probe model's image, built and pushed once per run (the registry lives as long as the run). */
async function probeImage(node: TestNode): Promise<string> {
  const reference = `${node.registry}/refit-test/probe:artifact`;
  if (await exists(node, reference)) return reference;
  const work = mkdtempSync(path.join(os.tmpdir(), 'refit-probe-image-'));
  try {
    const artifact = path.join(work, 'layer', ARTIFACT_PATH);
    mkdirSync(artifact, { recursive: true });
    await run('python3', ['-m', 'refit_sdk.build', '--model-dir', PROBE_MODEL_DIR, '--artifact-dir', artifact], {
      env: { ...process.env, PYTHONPATH: path.join(packageRoot(), 'sdk', 'python') },
    });
    const layer = path.join(work, 'artifact.tar');
    await run('tar', ['--create', '--file', layer, '--directory', path.join(work, 'layer'), '--owner=0', '--group=0', '--numeric-owner', '.']);
    await crane(node, ['append', '--base', node.images.runtime!, '--new_layer', layer, '--new_tag', reference]);
    return reference;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Makes `<repository>/<model>:<build>` exist in the node's registry, as if a build had pushed it. */
export async function pushModelImage(node: TestNode, repository: string, modelId: string, buildId: string): Promise<void> {
  const reference = `${repository}/${modelId}:${buildId}`;
  if (await exists(node, reference)) return;
  // A label of its own makes each build's image distinct (its own config and digest, the layers shared), as
  // real builds' images are: the kubelet then reports each pod's image as its build's, not another tag of one digest.
  await crane(node, ['mutate', await probeImage(node), '--label', `dev.refit.build=${buildId}`, '--tag', reference]);
}
