// The cluster first: stopping it undoes the node's changes to the machine, and says what it could not undo.
// Then the Temporal server, whose tether deletes the run's throwaway state folder (REFIT_KEEP_TEST_STATE keeps it).
export default async function globalTeardown(): Promise<void> {
  try {
    await globalThis.refitTestCluster?.stop();
  } finally {
    await globalThis.refitTestServer?.stop();
  }
}
