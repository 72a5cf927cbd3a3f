// The test control plane has no kubelet (see test/harness/kubernetes.ts): pods are created but never run.
// This stands in for one, the way controlPlane.test.ts does by hand: it reports pods running and ready
// through the pods/status subresource, and the controllers then roll the Deployment out. `runs` decides which
// pods "start"; the others stay Pending, as pods of an image that never becomes ready would.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export interface FakeKubelet {
  /** Which pods become ready from now on. */
  runs: (pod: V1Pod) => boolean;
  stop(): Promise<void>;
}

/** The status a kubelet reports for a pod whose containers started and passed their readiness probes. */
export function runningAndReady(pod: V1Pod): object {
  const now = new Date().toISOString();
  const condition = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  return {
    status: {
      phase: 'Running',
      startTime: now,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(condition),
      containerStatuses: pod.spec!.containers.map((container) => ({
        name: container.name,
        image: container.image,
        imageID: '',
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    },
  };
}

function isReady(pod: V1Pod): boolean {
  return Boolean(pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'));
}

export function startFakeKubelet(kubeConfig: KubeConfig, runs: (pod: V1Pod) => boolean = () => true): FakeKubelet {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const kubelet: FakeKubelet = { runs, stop: async () => undefined };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const { items } = await core.listPodForAllNamespaces();
        for (const pod of items.filter((item) => !item.metadata?.deletionTimestamp && !isReady(item) && kubelet.runs(item))) {
          await core
            .patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: runningAndReady(pod) }, mergePatch)
            .catch(() => undefined);
        }
      } catch {
        // The API server is stopping, or a pod went away between list and patch.
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  kubelet.stop = async () => {
    stopped = true;
    await loop;
  };
  return kubelet;
}
