// When a Deployment's rollout has finished, the way `kubectl rollout status` decides it, and why it has not.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';

export interface RolloutProgress {
  done: boolean;
  /** Set when the deployment controller gave up (ProgressDeadlineExceeded). */
  failed?: string;
  /** What the rollout waits for now. */
  waitingFor: string;
}

/** `generation` is the Deployment's generation after Refit's apply: status from before it does not count. */
export function rolloutProgress(deployment: V1Deployment, generation: number): RolloutProgress {
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) return { done: false, waitingFor: 'the deployment controller to see the new revision' };
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      done: false,
      failed: progressing.message ?? 'the rollout exceeded its progress deadline',
      waitingFor: 'nothing (the deployment controller gave up)',
    };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired) return { done: false, waitingFor: `new pods: ${updated} of ${desired} created` };
  if (total > updated) {
    // The previous build's pods stay until the new ones are available: say which of the two the rollout waits for.
    const previous = total - updated;
    const newAvailable = Math.max(0, available - previous);
    if (newAvailable < updated) {
      return {
        done: false,
        waitingFor: `new pods to be ready: ${newAvailable} of ${updated} available (${previous} pod(s) of the previous build serve meanwhile)`,
      };
    }
    return { done: false, waitingFor: `${previous} pod(s) of the previous build to stop` };
  }
  if (available < updated) return { done: false, waitingFor: `new pods to be ready: ${available} of ${updated} available` };
  return { done: true, waitingFor: 'nothing' };
}

/** Why pods are not ready, counted by reason: "2 pods not scheduled (0/3 nodes are available: ...)". */
export function describePods(pods: V1Pod[]): string {
  const reasons = new Map<string, number>();
  for (const pod of pods) {
    const reason = podReason(pod);
    if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  if (!pods.length) return "no pods of the new build exist (see the ReplicaSet's events: quota or admission may refuse them)";
  if (!reasons.size) return `${pods.length} pod(s) of the new build, all ready`;
  return [...reasons].map(([reason, count]) => `${count} pod${count === 1 ? '' : 's'} ${reason}`).join('; ');
}

function podReason(pod: V1Pod): string | undefined {
  const status = pod.status ?? {};
  if (status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')) return undefined;
  const unscheduled = status.conditions?.find((condition) => condition.type === 'PodScheduled' && condition.status === 'False');
  if (unscheduled) return `not scheduled (${unscheduled.message ?? unscheduled.reason ?? 'no node fits'})`;
  if (!pod.spec?.nodeName) return 'pending, not scheduled to a node yet';
  for (const container of status.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    if (waiting?.reason) return `waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`;
    const terminated = container.lastState?.terminated ?? container.state?.terminated;
    if (terminated)
      return `exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}; see \`kubectl logs ${pod.metadata?.name}\``;
    if (!container.ready) return 'running but not ready (the readiness probe /v2/health/ready fails)';
  }
  return `${status.phase ?? 'Pending'}, not ready`;
}

export interface WaitOptions {
  read: () => Promise<V1Deployment>;
  /** Why the new pods are not ready, for the failure message. */
  explain: () => Promise<string>;
  generation: number;
  deadline: number;
  pollMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export class RolloutFailed extends Error {}

/** Resolves once the rollout has finished; throws RolloutFailed with the reason when it fails, times out or is cancelled. */
export async function waitForRollout(options: WaitOptions): Promise<void> {
  for (;;) {
    if (options.signal?.aborted) throw new RolloutFailed('the deploy was cancelled while the rollout was in progress');
    const progress = rolloutProgress(await options.read(), options.generation);
    if (progress.done) return;
    if (progress.failed) throw new RolloutFailed(`${progress.failed}; ${await options.explain()}`);
    // Reported on every poll: it is the activity's heartbeat (Temporal throttles what it sends).
    options.onProgress?.(`rollout: waiting for ${progress.waitingFor}`);
    const left = options.deadline - options.now();
    if (left <= 0) throw new RolloutFailed(`the rollout did not finish in time (waiting for ${progress.waitingFor}); ${await options.explain()}`);
    await options.sleep(Math.min(options.pollMs, left));
  }
}
