// `make dev`: the embedded dev server and a worker in the foreground until Ctrl-C.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startEmbeddedStack } from './embeddedStack.js';

/** The embedded stack in the foreground until Ctrl-C: `make dev` and `refit dev`. */
export async function runDevStack(): Promise<void> {
  // The worker on this machine's own queue runs activities only; the SDK's warning about that is noise here.
  const logger = new DefaultLogger((process.env.REFIT_LOG_LEVEL ?? 'WARN') as 'WARN');
  Runtime.install({
    logger: new DefaultLogger('TRACE', (entry) => {
      if (!entry.message.startsWith('No workflows registered')) logger.log(entry.level, entry.message, entry.meta);
    }),
  });
  const stack = await startEmbeddedStack();
  if (!stack.ownsServer) {
    console.log(`another Refit process already serves this machine's dev stack at ${stack.server.address}; adding a worker`);
  }
  console.log(`Refit dev stack is up (Ctrl-C stops it):`);
  console.log(`  Temporal  ${stack.server.address}   (TEMPORAL_ADDRESS=${stack.server.address})`);
  console.log(`  Web UI    ${stack.server.uiUrl}`);
  console.log(`  worker    task queue "${stack.taskQueue}", namespace "${stack.server.namespace}"`);
  console.log(`  log       ${stack.server.logFile}`);
  try {
    // The SDK's runtime shuts the worker down on SIGINT/SIGTERM, which ends run().
    await stack.worker.run();
  } finally {
    await stack.stop();
    console.log('stopped');
  }
}
