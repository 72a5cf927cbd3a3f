// The approval gate of a run: a person decides (refit approve / refit reject) before a build that passed its
// condition is deployed. The run waits durably, holding no compute, up to the policy's timeout.
import { condition as waitUntil, defineSignal, defineUpdate, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SearchAttributeKeys, SignalNames, UpdateNames } from '../shared/names.js';
import type { ApprovalDecision, ApprovalRecord, RunStatus } from '../shared/runTypes.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import { intervalMs } from './durations.js';

export const decideApprovalUpdate = defineUpdate<ApprovalRecord, [ApprovalDecision]>(UpdateNames.decideApproval);
export const decideApprovalSignal = defineSignal<[ApprovalDecision]>(SignalNames.decideApproval);

type Approval = NonNullable<AutomationModel['action']['approval']>;

export class ApprovalGate {
  private decision: ApprovalRecord | undefined;

  /** Installs the update (with a validator that says why a decision is refused) and its signal fallback. */
  constructor(private readonly status: RunStatus) {
    const decide = (request: ApprovalDecision): ApprovalRecord => {
      this.decision = { decision: request.approve ? 'approved' : 'rejected', by: request.by, reason: request.reason, at: new Date().toISOString() };
      return this.decision;
    };
    setHandler(decideApprovalUpdate, decide, {
      validator: (request) => {
        if (status.step !== 'awaiting_approval' || this.decision)
          throw new Error(`run ${workflowInfo().workflowId} is not waiting for approval (it is ${status.step.replace('_', ' ')})`);
        if (!request?.by) throw new Error('say who decides: by is required');
      },
    });
    setHandler(decideApprovalSignal, (request) => {
      if (status.step === 'awaiting_approval' && !this.decision && request?.by) decide(request);
    });
  }

  /** Waits for a decision or the timeout; returns whether the build may be deployed. */
  async await(approval: Approval): Promise<boolean> {
    this.status.step = 'awaiting_approval';
    upsertSearchAttributes([{ key: SearchAttributeKeys.approval, value: 'pending' }]);
    if (!(await waitUntil(() => this.decision !== undefined, intervalMs(approval.timeout)))) {
      this.decision = {
        decision: approval.on_timeout === 'approve' ? 'timed_out_approved' : 'timed_out_rejected',
        by: 'timeout',
        reason: `no decision within ${approval.timeout}`,
        at: new Date().toISOString(),
      };
    }
    const record = this.decision!;
    this.status.approval = record;
    const approved = record.decision === 'approved' || record.decision === 'timed_out_approved';
    upsertSearchAttributes([{ key: SearchAttributeKeys.approval, value: approved ? 'approved' : record.decision === 'rejected' ? 'rejected' : 'timed_out' }]);
    return approved;
  }
}

export function describeDecision(record: ApprovalRecord): string {
  const why = record.reason ? ` (${record.reason})` : '';
  switch (record.decision) {
    case 'approved':
      return `approved by ${record.by}${why}`;
    case 'rejected':
      return `rejected by ${record.by}${why}`;
    default:
      return `nobody decided in time, so it was ${record.decision === 'timed_out_approved' ? 'approved' : 'rejected'}${why}`;
  }
}
