// `make dev` and `make dev-kubernetes` (--kubernetes).
import { runDevStack } from './dev.js';

runDevStack({ kubernetes: process.argv.includes('--kubernetes') }).catch((err: unknown) => {
  console.error(`dev stack failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
