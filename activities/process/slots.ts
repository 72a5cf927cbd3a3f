// How many of a kind of step one worker runs at once. A step beyond that waits here, heartbeating as
// any running step does, until one ends: memory and CPU are bounded by the slots, not by the runs queued.

export class Slots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    /** At most this many at once (at least 1). */
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a slot count must be a whole number of at least 1, not ${size}`);
  }

  /** Steps waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` in a slot. `onWait` hears how many wait ahead while it waits; an aborted `signal`
   * (the step was cancelled) gives up the wait with the signal's reason.
   */
  async run<T>(work: () => Promise<T>, options: { signal?: AbortSignal; onWait?: (ahead: number) => void } = {}): Promise<T> {
    if (this.running >= this.size) await this.wait(options);
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight on: `running` stays as it is
      else this.running--;
    }
  }

  private wait({ signal, onWait }: { signal?: AbortSignal; onWait?: (ahead: number) => void }): Promise<void> {
    signal?.throwIfAborted();
    onWait?.(this.waiting.length);
    return new Promise<void>((resolve, reject) => {
      const granted = () => {
        signal?.removeEventListener('abort', aborted);
        resolve();
      };
      const aborted = () => {
        const index = this.waiting.indexOf(granted);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      this.waiting.push(granted);
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }
}
