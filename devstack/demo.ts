// `make demo`: the embedded stack, one run end to end, its result and where to see it, then a clean stop.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { WorkflowTypes } from '../shared/names.js';
import type { SmokeTestResult } from '../workflows/smokeTest.js';
import { startEmbeddedStack } from './embeddedStack.js';

function step(message: string): void {
  console.log(`• ${message}`);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  step('starting the Temporal dev server and a Refit worker');
  const stack = await startEmbeddedStack();
  try {
    const whose = stack.ownsServer ? 'started' : 'already running (make dev)';
    step(`Temporal at ${stack.server.address} (${whose}), Web UI at ${stack.server.uiUrl}`);
    const workflowId = `demo-smoke-${Date.now()}`;
    step(`running workflow ${workflowId}`);
    const result = await stack.worker.runUntil(
      stack.client.workflow.execute<(name: string) => Promise<SmokeTestResult>>(WorkflowTypes.smokeTest, {
        taskQueue: stack.taskQueue,
        workflowId,
        args: ['demo'],
      }),
    );
    console.log('\nResult:');
    console.log(JSON.stringify(result, null, 2));
    const link = `${stack.server.uiUrl}/namespaces/${stack.server.namespace}/workflows/${workflowId}`;
    console.log(`\nThe run in the Temporal Web UI:\n  ${link}`);
    if (stack.ownsServer) console.log('  (the demo stops its server now: `make dev` brings it back with this run in it)');
  } finally {
    step(stack.ownsServer ? 'stopping the worker and the dev server' : 'stopping the demo worker');
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
