// Requests to the example model (examples/model-repo's breast-cancer) where it serves, for the demo and the bench.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/** http://<ClusterIP>:<port> of the model's Service: this machine reaches it through kube-proxy's rules. */
export async function serviceAddress(kubeconfig: string, namespace: string, modelId: string): Promise<string> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  const { spec } = await kubeConfig.makeApiClient(CoreV1Api).readNamespacedService({ name: modelId, namespace });
  return `http://${spec!.clusterIP}:${spec!.ports![0]!.port}`;
}

/** Two patients' 30 features to the example breast-cancer model (Open Inference Protocol v2). */
export async function predict(url: string, modelId: string): Promise<{ outputs: unknown; pod: string | null; build: string | null }> {
  const malignant = [
    17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003,
    0.006193, 25.38, 17.33, 184.6, 2019, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189,
  ];
  const benign = [
    13.54, 14.36, 87.46, 566.3, 0.09779, 0.08129, 0.06664, 0.04781, 0.1885, 0.05766, 0.2699, 0.7886, 2.058, 23.56, 0.008462, 0.0146, 0.02387, 0.01315, 0.0198,
    0.0023, 15.11, 19.26, 99.7, 711.2, 0.144, 0.1773, 0.239, 0.1288, 0.2977, 0.07259,
  ];
  const body = JSON.stringify({ inputs: [{ name: 'features', shape: [2, 30], datatype: 'FP64', data: [malignant, benign] }] });
  // kube-proxy programs a new Service's rules a moment after its pod is ready: a refused first try is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${url}/v2/models/${modelId}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
      const answer = (await response.json()) as { outputs: { data: unknown }[] };
      return { outputs: answer.outputs[0]!.data, pod: response.headers.get('x-refit-pod'), build: response.headers.get('x-refit-build-id') };
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
