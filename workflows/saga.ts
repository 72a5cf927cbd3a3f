// Compensation as a saga: each step that changes what serves registers its undo right after it succeeds;
// when anything fails (of any type, cancellation included), the undos run in reverse, none of them
// cancellable, each on its own, so that one that fails neither hides the original error nor stops the others.
import { CancellationScope } from '@temporalio/workflow';
import type { RollbackRecord } from '../shared/runTypes.js';
import { rootCause } from './failures.js';

interface Undo {
  /** What it undoes, for the record: "variation default in prod: back to build x". */
  what: RollbackRecord;
  run: () => Promise<RollbackRecord | undefined>;
}

export class Compensations {
  private readonly undos: Undo[] = [];

  get pending(): number {
    return this.undos.length;
  }

  /** Registers the undo of a change that just succeeded; returns it, for replace(). */
  add(what: RollbackRecord, run: () => Promise<RollbackRecord | undefined>): object {
    const undo = { what, run };
    this.undos.push(undo);
    return undo;
  }

  /** Puts another undo in the place of one, when the change it undoes became another (a canary promoted). */
  replace(token: object, what: RollbackRecord, run: () => Promise<RollbackRecord | undefined>): void {
    const index = this.undos.indexOf(token as Undo);
    if (index === -1) this.undos.push({ what, run });
    else this.undos[index] = { what, run };
  }

  /** Runs every undo, last first; returns what each did, or why it failed. */
  async runAll(): Promise<RollbackRecord[]> {
    const records: RollbackRecord[] = [];
    await CancellationScope.nonCancellable(async () => {
      for (const undo of [...this.undos].reverse()) {
        try {
          records.push((await undo.run()) ?? undo.what);
        } catch (err) {
          records.push({ ...undo.what, failed: rootCause(err).message });
        }
      }
    });
    this.undos.length = 0;
    return records;
  }
}
