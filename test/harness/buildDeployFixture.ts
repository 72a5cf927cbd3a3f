// What the BuildDeploy tests share: the example model published on a token-checking git server, a
// throwaway Refit home with the token stored as a secret, and automations aimed at them.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { LocalSecretStore } from '../../activities/secrets/localSecretStore.js';
import { stopAllLocalServing } from '../../activities/deploy/local/localTarget.js';
import { packageRoot, refitHome } from '../../platform/paths.js';
import { WorkflowTypes } from '../../shared/names.js';
import type { BuildDeployInput, BuildDeployResult } from '../../shared/runTypes.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { validateAutomation } from '../../spec/validate.js';
import { startGitServer, type GitServer } from '../../devstack/gitServer.js';
import { connectToTestServer, createTestWorker, uniqueTaskQueue } from './temporal.js';

export const TOKEN = 'e2e-token-9c4f1a77d2b84e0f';
export const MODEL_FOLDER = 'models/breast_cancer';
/** The example model's f1_score with its defaults and with the degrading knobs (see its README). */
export const GOOD_F1 = 0.9888888888888889;
export const POOR_F1 = 0.8914285714285715;
export const POOR = ['TRAINING_FRACTION=0.05', 'N_FEATURES=2'];

/** Model environments are kept between test runs on this machine: installing scikit-learn is slow. */
export const TEST_VENV_CACHE = path.join(refitHome(), 'test-venvs');

export interface Fixture {
  git: GitServer;
  commit: string;
  home: string;
  server: Awaited<ReturnType<typeof connectToTestServer>>;
  taskQueue: string;
  worker: Awaited<ReturnType<typeof createTestWorker>>;
  automation(overrides: (input: Record<string, any>) => void): AutomationModel;
  run(automation: AutomationModel, workflowId?: string): Promise<BuildDeployResult>;
  /** Runs one that must fail; resolves to the failure's innermost message and type. */
  runFailing(automation: AutomationModel): Promise<{ message: string; type?: string; workflowId: string }>;
  close(): Promise<void>;
}

export async function startFixture(
  label: string,
  dependencies: Parameters<typeof createTestWorker>[0]['dependencies'] = {},
  options: { gitHost?: string } = {},
): Promise<Fixture> {
  const git = await startGitServer(TOKEN, 0, options.gitHost);
  const commit = await git.publish('models', path.join(packageRoot(), 'examples', 'model-repo'));
  const home = mkdtempSync(path.join(os.tmpdir(), `refit-${label}-`));
  await new LocalSecretStore(path.join(home, 'secrets')).set('git_token', TOKEN);
  const server = await connectToTestServer();
  const taskQueue = uniqueTaskQueue(label);
  const worker = await createTestWorker({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    home,
    dependencies: { venvCacheDir: TEST_VENV_CACHE, ...dependencies },
  });
  const running = worker.run();
  let counter = 0;
  const start = (automation: AutomationModel, workflowId?: string) =>
    server.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue,
      workflowId: workflowId ?? `${label}-${++counter}-${taskQueue}`,
      args: [{ automation, trigger: { kind: 'manual' } }],
    });
  return {
    git,
    commit,
    home,
    server,
    taskQueue,
    worker,
    automation(change) {
      const input: Record<string, any> = {
        name: `${label}-automation`,
        model_id: label,
        trigger: { type: 'NoneTrigger' },
        action: {
          build_spec: { git_uri: `${git.url}/models.git#${MODEL_FOLDER}`, git_access_token_secret: 'git_token', tags: ['e2e'] },
          deployment_condition: { type: 'BuildMetric', metric_name: 'f1_score', direction: 'ABOVE', threshold: '0.65' },
          deployment_spec: { number_of_pods: 1, cpu_fraction: 1, memory: '1Gi', deployment_process_timeout_limit: 60 },
        },
      };
      change(input);
      const validated = validateAutomation(input);
      if (!validated.ok) throw new Error(`test automation is invalid: ${JSON.stringify(validated.errors)}`);
      return validated.automation;
    },
    async run(automation, workflowId) {
      return (await start(automation, workflowId)).result();
    },
    async runFailing(automation) {
      const handle = await start(automation);
      const error = await handle.result().then(
        () => {
          throw new Error('the run was expected to fail');
        },
        (err: unknown) => err,
      );
      if (!(error instanceof WorkflowFailedError)) throw error;
      let cause: any = error.cause;
      while (cause?.cause) cause = cause.cause;
      return { message: error.cause?.message ?? '', type: cause?.type, workflowId: handle.workflowId };
    },
    async close() {
      worker.shutdown();
      await running;
      await stopAllLocalServing(path.join(home, 'deployments'));
      await git.stop();
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Sends two rows of 30 features to a served model and returns its predictions. */
export async function predict(url: string, modelId: string): Promise<{ status: number; data: unknown; variation: string | null; build: string | null }> {
  const row = [
    17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003,
    0.006193, 25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189,
  ];
  const response = await fetch(`${url}/v2/models/${modelId}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [2, 30], datatype: 'FP64', data: [row, row.map((value) => value / 2)] }] }),
  });
  const body = (await response.json()) as { outputs?: { data: unknown }[] };
  return {
    status: response.status,
    data: body.outputs?.[0]?.data,
    variation: response.headers.get('x-refit-variation'),
    build: response.headers.get('x-refit-build-id'),
  };
}

/**
 * A run's whole history as searchable text: the JSON of every event plus every payload decoded
 * (payloads are base64 in the history, so a plain search of the JSON would never find a leaked value).
 */
export async function historyText(fixture: Fixture, workflowId: string): Promise<string> {
  const json = JSON.stringify(await fixture.server.client.workflow.getHandle(workflowId).fetchHistory());
  const decoded = [...json.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map(([, data]) => Buffer.from(data!, 'base64').toString('utf8'));
  return [json, ...decoded].join('\n');
}
