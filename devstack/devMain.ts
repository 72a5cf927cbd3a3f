// `make dev`.
import { runDevStack } from './dev.js';

runDevStack().catch((err: unknown) => {
  console.error(`dev stack failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
