// The CRDs Refit deploys against (KEDA, Gateway API), installed into the local cluster at start.
import { readdirSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { request, START_TIMEOUT_MS } from './serverProcess.js';

/**
 * Applies every CRD in `crdDir` (server-side) and waits until the API server serves each (condition Established).
 * The YAML goes to the server as it is: KubernetesObjectApi would pass a built-in kind through the client's
 * typed models, which expect their own property names and drop schema keys such as `default`, `enum` and
 * `x-kubernetes-int-or-string`.
 */
export async function installCrds(kubeConfig: KubeConfig, crdDir: string): Promise<void> {
  const crds = readdirSync(crdDir)
    .filter((name) => name.endsWith('.yaml'))
    .flatMap((name) => parseAllDocuments(readFileSync(path.join(crdDir, name), 'utf8')).map((doc) => doc.toJS() as V1CustomResourceDefinition))
    .filter((crd) => crd?.kind === 'CustomResourceDefinition');
  const server = kubeConfig.getCurrentCluster()!.server;
  await Promise.all(
    crds.map(async (crd) => {
      const url = `${server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name}?fieldManager=refit-local-cluster&force=true`;
      const options: https.RequestOptions = { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' } };
      await kubeConfig.applyToHTTPSOptions(options);
      const { status, body } = await request(url, options, JSON.stringify(crd));
      if (status !== 200 && status !== 201) throw new Error(`applying the CRD ${crd.metadata!.name} failed with ${status}: ${body}`);
    }),
  );
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    for (;;) {
      const current = await extensions.readCustomResourceDefinition({ name });
      if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`the CRD ${name} was not Established within ${START_TIMEOUT_MS} ms: ${JSON.stringify(current.status?.conditions)}`);
      await sleep(100);
    }
  }
}
