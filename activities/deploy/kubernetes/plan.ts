// `refit plan --run` on Kubernetes: what apply would change, worked out exactly as apply works it out (same
// objects, same ownership checks) and answered by the API server through server-side dry-run applies, so that
// defaults, validation and conflicts with other managers are the server's own. Nothing is written.
import type { KubernetesObject } from '@kubernetes/client-node';
import { RefitError } from '../../../shared/errors.js';
import type { Cluster } from './cluster.js';
import { LABELS, MANAGED_BY } from './names.js';
import { describeChanges, fieldChanges } from './objectChanges.js';
import { checkOwnership, describeObject } from './ownership.js';
import type { PreparedRelease, ReleaseApplier } from './releaseApplier.js';
import { releaseOfDeployment, type Release } from './servingRecord.js';

export async function planRelease(applier: ReleaseApplier, cluster: Cluster, release: Release): Promise<string[]> {
  let prepared: PreparedRelease;
  try {
    prepared = await applier.prepare(cluster, release);
  } catch (err) {
    if (err instanceof RefitError) return [`the deploy would fail before changing anything: ${err.message}`];
    throw err;
  }
  const { plan, current } = prepared;
  const lines: string[] = [];
  let rollsOut = false;
  for (const object of [...plan.workload, ...plan.serving]) {
    const line = await planObject(cluster, object);
    if (object.kind === 'Deployment' && /^(create|change) /.test(line)) rollsOut = true;
    lines.push(line);
  }
  for (const ref of plan.obsolete) {
    const live = await cluster.read(ref);
    if (live?.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY) lines.push(`delete ${describeObject(ref)}`);
  }
  if (rollsOut) {
    const previous = releaseOfDeployment(current);
    const otherwise = previous ? `build ${previous.buildId} is put back` : 'what it created is removed';
    lines.push(
      `wait up to ${release.spec.deployment_process_timeout_limit} s for the rollout of build ${release.buildId} before the Services and routes change; if it does not finish, ${otherwise}`,
    );
  }
  return [...lines, ...plan.notes];
}

/** "create ...", "change ...: what", "unchanged ...", or why the apply of this object would fail. */
async function planObject(cluster: Cluster, object: KubernetesObject): Promise<string> {
  const what = describeObject(object);
  const live = await cluster.read(object);
  try {
    if (live) checkOwnership(live, object);
    const planned = await cluster.apply(object, { dryRun: true });
    if (!live) return `create ${what}`;
    const changes = describeChanges(fieldChanges(live, planned), planned);
    return changes.length ? `change ${what}: ${changes.join(', ')}` : `unchanged ${what}`;
  } catch (err) {
    // Refused by Refit's checks or by the API server (validation, conflicts): the deploy would fail there.
    const code = ((err as Error).cause as { code?: unknown } | undefined)?.code;
    if (err instanceof RefitError || (typeof code === 'number' && code >= 400 && code < 500))
      return `cannot apply ${what}, so the deploy would fail: ${(err as Error).message}`;
    throw err;
  }
}
