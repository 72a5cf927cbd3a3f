// Everything the bench starts is stopped at the end, also when a figure fails or the run is interrupted:
// stoppers run last-started-first, each once. Servers are tethered besides, so even a SIGKILL of the
// bench leaves nothing running (see devstack/tether.ts).

type Stopper = { what: string; stop: () => Promise<void> | void };

const stoppers: Stopper[] = [];

export function onCleanup(what: string, stop: Stopper['stop']): () => Promise<void> {
  const entry: Stopper = { what, stop };
  stoppers.push(entry);
  // Stopping early (a figure done with its worker) takes the entry off the list.
  return async () => {
    const index = stoppers.indexOf(entry);
    if (index === -1) return;
    stoppers.splice(index, 1);
    await entry.stop();
  };
}

export async function cleanupAll(): Promise<void> {
  while (stoppers.length) {
    const entry = stoppers.pop()!;
    try {
      await entry.stop();
    } catch (err) {
      console.error(`bench: stopping ${entry.what} failed: ${(err as Error).message}`);
    }
  }
}

/**
 * Ctrl-C, a SIGTERM or an error nobody caught still stops what was started before the process exits.
 * Once stopping, the interrupted figure's calls fail against what is being stopped: they are ignored.
 */
export function cleanupOnSignalsAndErrors(): void {
  let stopping = false;
  const stop = (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    console.error(`bench: ${why}; stopping what was started`);
    void cleanupAll().finally(() => process.exit(exitCode));
  };
  process.on('uncaughtException', (err) => stop(`uncaught: ${err.stack ?? err.message}`, 1));
  process.on('unhandledRejection', (err) => stop(`unhandled: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(signal, 130));
}
