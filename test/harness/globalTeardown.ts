// The tether deletes the run's throwaway state folder once the server is gone (REFIT_KEEP_TEST_STATE keeps it).
export default async function globalTeardown(): Promise<void> {
  await globalThis.refitTestServer?.stop();
}
