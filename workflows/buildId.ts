// A build's id names the model and the run: the same through a reset or a continue-as-new of that run
// (its workflow id and first run id stay), different for any other run.

/** `<model id>-<12 hex digits>` from the run's workflow id and first run id. */
export function buildIdOf(modelId: string, workflowId: string, firstExecutionRunId: string): string {
  const text = `${workflowId}\u0000${firstExecutionRunId}`;
  return `${modelId}-${(fnv1a(text, 0x811c9dc5) + fnv1a(text, 0x01000193)).slice(0, 12)}`;
}

/** 32-bit FNV-1a, as 8 hex digits: deterministic and dependency-free, as workflow code must be. */
function fnv1a(text: string, seed: number): string {
  let hash = seed >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
