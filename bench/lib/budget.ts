// The whole bench must finish in the time it is given on a shared machine whose speed varies from run
// to run. Figures always measure their minimum repetitions; extra ones only while the budget allows.

export class Budget {
  private readonly deadline: number;

  constructor(minutes: number) {
    this.deadline = Date.now() + minutes * 60_000;
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  /** Whether work estimated at `estimateMs` fits, with `reserveMs` kept for what comes after it. */
  allows(estimateMs: number, reserveMs = 0): boolean {
    return this.remainingMs() - reserveMs > estimateMs;
  }
}
