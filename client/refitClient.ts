// The programmatic client: what `refit` does, for scripts. It talks to Temporal only: schedules for the
// automations, workflow runs for their builds.
import {
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
  WorkflowUpdateFailedError,
} from './temporalClient.js';
import { runningBuildsQuery, runsQuery } from '../shared/visibility.js';
import { QueryNames, SearchAttributeKeys, UpdateNames, WorkflowTypes } from '../shared/names.js';
import {
  RUN_INPUT_VERSION,
  type ApprovalDecision,
  type ApprovalRecord,
  type BuildDeployInput,
  type BuildDeployResult,
  type RunStatus,
} from '../shared/runTypes.js';
import type { AutomationModel } from '../spec/schema/automation.js';
import { runDetails, runSummary } from '../shared/runSummary.js';
import { closest } from '../spec/suggest.js';
import type { RollbackInput, RollbackResult, ScaleStatusInput, ScaleStatusResult, UndeployInput, UndeployResult } from '../shared/operations.js';
import { environmentsOf } from '../shared/deployment.js';
import { registerAutomations, refitScheduleIds, SCHEDULE_PREFIX, scheduleIdOf, type Registration } from './schedules.js';

export interface AutomationState {
  name: string;
  scheduleId: string;
  automation: AutomationModel;
  paused: boolean;
  note?: string;
  nextRuns: Date[];
  recentRuns: { workflowId: string; scheduledAt: Date; startedAt: Date }[];
  overlap: string;
  catchupWindowMs: number;
}

export interface RunRecord {
  /** A build-and-deploy run, or a rollback. */
  kind: 'build' | 'rollback';
  workflowId: string;
  runId: string;
  /** Running, Completed, Failed, … as Temporal says. */
  status: string;
  startedAt: Date;
  closedAt?: Date;
  automation?: string;
  buildId?: string;
  commit?: string;
  deployed?: boolean;
  condition?: string;
  /** pending while the run waits for `refit approve` / `refit reject`. */
  approval?: string;
  reason?: string;
}

/** A manual run the automation's overlap policy does not allow now (another run is in progress). */
export class RunRefusedError extends Error {
  override readonly name = 'RunRefusedError';
}

export class AutomationNotFoundError extends Error {
  constructor(name: string, suggestion?: string) {
    super(
      suggestion
        ? `no automation "${name}" is registered; did you mean "${suggestion}"? (\`refit list\` shows what is)`
        : `no automation "${name}" is registered: register it with \`refit register <file>\` (\`refit list\` shows what is)`,
    );
  }
}

export class RefitClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  register(automations: AutomationModel[], options: { prune?: boolean } = {}): Promise<Registration[]> {
    return registerAutomations(this.client, automations, { taskQueue: this.taskQueue, prune: options.prune });
  }

  async list(): Promise<AutomationState[]> {
    const states: AutomationState[] = [];
    for (const scheduleId of await refitScheduleIds(this.client)) {
      const state = await this.describe(scheduleId.slice(SCHEDULE_PREFIX.length)).catch((err: unknown) => {
        if (err instanceof AutomationNotFoundError) return undefined; // deleted since it was listed
        throw err;
      });
      if (state) states.push(state);
    }
    return states;
  }

  async describe(name: string): Promise<AutomationState> {
    const description = await this.schedule(name);
    const args = description.action.args as [{ automation: AutomationModel }] | undefined;
    const automation = args?.[0]?.automation ?? (description.memo?.refit_automation as AutomationModel);
    return {
      name,
      scheduleId: description.scheduleId,
      automation,
      paused: description.state.paused,
      note: description.state.note,
      // Temporal still computes the times of a paused schedule; none of them will start a run.
      nextRuns: description.state.paused ? [] : description.info.nextActionTimes,
      recentRuns: description.info.recentActions.map((action) => ({
        workflowId: action.action.workflow.workflowId,
        scheduledAt: action.scheduledAt,
        startedAt: action.takenAt,
      })),
      overlap: description.policies.overlap ?? 'SKIP',
      catchupWindowMs: description.policies.catchupWindow,
    };
  }

  /**
   * Starts a run of a registered automation now, outside its schedule, the way its schedule would: with a
   * run in progress, its overlap policy decides (skip refuses, buffer_one and buffer_all wait for it,
   * cancel_other and terminate_other stop it, allow_all starts beside it). `force` starts one regardless.
   */
  async run(name: string, options: { force?: boolean; onWait?: (running: string[]) => void } = {}): Promise<WorkflowHandleWithFirstExecutionRunId> {
    const { automation } = await this.describe(name);
    if (!options.force) await this.makeRoomFor(automation, options.onWait);
    return this.runDefinition(automation);
  }

  /** Builds of an automation in progress now, by workflow id (visibility: one started an instant ago may be missed). */
  async runningBuilds(name: string): Promise<string[]> {
    const query = runningBuildsQuery(name);
    const ids: string[] = [];
    for await (const execution of this.client.workflow.list({ query })) ids.push(execution.workflowId);
    return ids;
  }

  private async makeRoomFor(automation: AutomationModel, onWait?: (running: string[]) => void): Promise<void> {
    const running = await this.runningBuilds(automation.name);
    if (!running.length) return;
    const policy = automation.trigger.type === 'ScheduledTrigger' ? automation.trigger.overlap_policy : 'skip';
    switch (policy) {
      case 'skip':
        throw new RunRefusedError(
          `${automation.name} has a run in progress (${running.join(', ')}) and its overlap policy is skip, so no run was started: ` +
            'wait for it to finish, or start one anyway with `refit run --force`',
        );
      case 'buffer_one':
      case 'buffer_all':
        onWait?.(running);
        await Promise.all(
          running.map((workflowId) =>
            this.client.workflow
              .getHandle(workflowId)
              .result()
              .catch(() => undefined),
          ),
        );
        return;
      case 'cancel_other':
        await Promise.all(running.map((workflowId) => this.client.workflow.getHandle(workflowId).cancel()));
        return;
      case 'terminate_other':
        await Promise.all(
          running.map((workflowId) => this.client.workflow.getHandle(workflowId).terminate(`refit run of ${automation.name} (overlap policy terminate_other)`)),
        );
        return;
      case 'allow_all':
        return;
    }
  }

  /** Starts a run of a definition (registered or not). */
  runDefinition(automation: AutomationModel): Promise<WorkflowHandleWithFirstExecutionRunId> {
    const stamp = new Date().toISOString().replace(/[-:.]/g, '');
    return this.client.workflow.start<(input: BuildDeployInput) => Promise<BuildDeployResult>>(WorkflowTypes.buildDeploy, {
      taskQueue: this.taskQueue,
      workflowId: `${scheduleIdOf(automation.name)}-manual-${stamp}`,
      args: [{ version: RUN_INPUT_VERSION, automation, trigger: { kind: 'manual' } }],
      staticSummary: runSummary(automation, 'manual'),
      staticDetails: runDetails(automation),
      typedSearchAttributes: [
        { key: SearchAttributeKeys.automation, value: automation.name },
        { key: SearchAttributeKeys.modelId, value: automation.model_id },
      ],
    });
  }

  /**
   * Waits for a run, calling `onStatus` whenever its step changes, and returns its result (or throws
   * WorkflowFailedError). Nothing is polled on a timer: a long poll on the run's history returns when
   * the run records something, and the status is asked only after the workflow's code has run (a
   * completed workflow task), so a build that trains for an hour costs a handful of calls.
   */
  async follow(handle: WorkflowHandle, onStatus: (status: RunStatus) => void): Promise<BuildDeployResult> {
    let last = '';
    const report = async () => {
      const status = await handle.query<RunStatus>(QueryNames.status).catch(() => undefined);
      if (status && status.step !== last) {
        last = status.step;
        onStatus(status);
      }
    };
    const stop = new AbortController();
    const result = handle.result() as Promise<BuildDeployResult>;
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    try {
      await report();
      let nextPageToken: Uint8Array | undefined;
      for (;;) {
        const page = await Promise.race([
          settled,
          this.client.connection.withAbortSignal(stop.signal, () =>
            this.client.workflowService.getWorkflowExecutionHistory({
              namespace: this.client.options.namespace,
              execution: { workflowId: handle.workflowId },
              waitNewEvent: true,
              skipArchival: true,
              nextPageToken,
            }),
          ),
        ]);
        if (!page) break; // the result came first
        // The status changes only when the workflow's code runs: ask after a workflow task has completed.
        if (page.history?.events?.some((event) => event.workflowTaskCompletedEventAttributes)) await report();
        // No token: the history is complete, the run closed.
        if (!page.nextPageToken?.length) break;
        nextPageToken = page.nextPageToken;
      }
    } catch {
      // Following is only for the progress shown: the result below decides.
    } finally {
      stop.abort();
    }
    return result;
  }

  async pause(name: string, note = 'paused with refit pause'): Promise<void> {
    await this.schedule(name);
    await this.client.schedule.getHandle(scheduleIdOf(name)).pause(note);
  }

  async resume(name: string, note = 'resumed with refit resume'): Promise<void> {
    await this.schedule(name);
    await this.client.schedule.getHandle(scheduleIdOf(name)).unpause(note);
  }

  async delete(name: string): Promise<void> {
    await this.schedule(name);
    await this.client.schedule.getHandle(scheduleIdOf(name)).delete();
  }

  /** Starts the runs the schedule would have started between `start` and `end`, one after another (each may deploy). */
  async backfill(name: string, start: Date, end: Date): Promise<void> {
    await this.schedule(name);
    await this.client.schedule.getHandle(scheduleIdOf(name)).backfill({ start, end, overlap: ScheduleOverlapPolicy.BUFFER_ALL });
  }

  /** Recent runs (newest first), of one automation or of all. */
  async history(name?: string, limit = 20): Promise<RunRecord[]> {
    const query = runsQuery({ types: [WorkflowTypes.buildDeploy, WorkflowTypes.rollbackDeploy], automation: name });
    const records: RunRecord[] = [];
    for await (const execution of this.client.workflow.list({ query })) {
      const attributes = execution.typedSearchAttributes;
      const memo = execution.memo?.result as { deployed?: boolean; reason?: string; condition?: { reason?: string } } | undefined;
      records.push({
        kind: execution.type === WorkflowTypes.rollbackDeploy ? 'rollback' : 'build',
        workflowId: execution.workflowId,
        runId: execution.runId,
        status: execution.status.name,
        startedAt: execution.startTime,
        closedAt: execution.closeTime,
        automation: attributes.get(SearchAttributeKeys.automation),
        buildId: attributes.get(SearchAttributeKeys.buildId),
        commit: attributes.get(SearchAttributeKeys.gitCommit),
        deployed: attributes.get(SearchAttributeKeys.deployed) ?? memo?.deployed,
        condition: attributes.get(SearchAttributeKeys.conditionOutcome),
        approval: attributes.get(SearchAttributeKeys.approval),
        reason: memo?.reason,
      });
      if (records.length >= limit) break;
    }
    return records;
  }

  /** Puts back a build the automation's model served before (the one just before by default), as a recorded run. */
  async rollback(name: string, options: { toBuildId?: string; by: string; reason?: string }): Promise<RollbackResult> {
    const { automation } = await this.describe(name);
    const stamp = new Date().toISOString().replace(/[-:.]/g, '');
    return this.client.workflow.execute<(input: RollbackInput) => Promise<RollbackResult>>(WorkflowTypes.rollbackDeploy, {
      taskQueue: this.taskQueue,
      workflowId: `${scheduleIdOf(name)}-rollback-${stamp}`,
      args: [
        { automation, toBuildId: options.toBuildId, by: options.by, reason: options.reason, hostTaskQueue: await this.servingHostQueue(automation.model_id) },
      ],
    });
  }

  /**
   * Stops what a deploy serves: `target` is an automation (its model, in its environments) or a model id (in
   * `environments`, default the default one). Recorded as a run of its own, on the worker that serves the model.
   */
  async undeploy(target: string, options: { variation?: string; environments?: string[]; by: string }): Promise<UndeployResult & { automation?: string }> {
    const automation = await this.describe(target).then(
      (state) => state.automation,
      (err: unknown) => {
        if (err instanceof AutomationNotFoundError) return undefined;
        throw err;
      },
    );
    const modelId = automation?.model_id ?? target;
    const environments = options.environments?.length ? options.environments : automation ? environmentsOf(automation.action.deployment_spec) : [''];
    const stamp = new Date().toISOString().replace(/[-:.]/g, '');
    const input: UndeployInput = {
      modelId,
      ...(automation ? { automation: automation.name } : {}),
      environments,
      ...(options.variation ? { variation: options.variation } : {}),
      by: options.by,
      hostTaskQueue: await this.servingHostQueue(modelId),
    };
    const result = await this.client.workflow.execute<(input: UndeployInput) => Promise<UndeployResult>>(WorkflowTypes.undeploy, {
      taskQueue: this.taskQueue,
      workflowId: `refit-undeploy-${modelId}-${stamp}`,
      args: [input],
    });
    return { ...result, ...(automation ? { automation: automation.name } : {}) };
  }

  /** Per environment, how the automation's model autoscales now, as a worker that serves it reads it from the cluster. */
  async scaleStatus(name: string): Promise<ScaleStatusResult> {
    const { automation } = await this.describe(name);
    const stamp = new Date().toISOString().replace(/[-:.]/g, '');
    return this.client.workflow.execute<(input: ScaleStatusInput) => Promise<ScaleStatusResult>>(WorkflowTypes.scaleStatus, {
      taskQueue: this.taskQueue,
      workflowId: `${scheduleIdOf(name)}-scale-status-${stamp}`,
      args: [{ automation, hostTaskQueue: await this.servingHostQueue(automation.model_id) }],
    });
  }

  /**
   * The task queue of the worker that last deployed a model: its serving state (local processes) is on
   * that machine, so rollbacks and plans of the model run there. Undefined when no deployed run says.
   */
  async servingHostQueue(modelId: string): Promise<string | undefined> {
    const query = runsQuery({ types: [WorkflowTypes.buildDeploy], modelId, deployed: true });
    for await (const execution of this.client.workflow.list({ query })) {
      const queue = (execution.memo?.result as { host_task_queue?: unknown } | undefined)?.host_task_queue;
      if (typeof queue === 'string') return queue;
    }
    return undefined;
  }

  /**
   * Approves or rejects a run waiting for approval: `target` is its workflow id, or an automation's name
   * (its run that is waiting). The run refuses a decision when it is not waiting for one.
   */
  async decide(target: string, decision: ApprovalDecision): Promise<{ workflowId: string; record: ApprovalRecord }> {
    const workflowId = (await this.pendingApproval(target)) ?? target;
    try {
      const record = await this.client.workflow
        .getHandle(workflowId)
        .executeUpdate<ApprovalRecord, [ApprovalDecision]>(UpdateNames.decideApproval, { args: [decision] });
      return { workflowId, record };
    } catch (err) {
      // The run's refusal (not waiting, no name given) is the cause; "Workflow Update failed" says nothing.
      if (err instanceof WorkflowUpdateFailedError && err.cause) throw new Error(err.cause.message, { cause: err });
      if (/already completed/i.test((err as Error).message)) throw new Error(`run ${workflowId} has finished: it is not waiting for approval`, { cause: err });
      throw err;
    }
  }

  /** The run of an automation that waits for approval (newest first), if `target` names an automation. */
  private async pendingApproval(target: string): Promise<string | undefined> {
    const query = runsQuery({ types: [WorkflowTypes.buildDeploy], running: true, approval: 'pending', automation: target });
    for await (const execution of this.client.workflow.list({ query })) return execution.workflowId;
    return undefined;
  }

  private async schedule(name: string): Promise<ScheduleDescription> {
    try {
      return await this.client.schedule.getHandle(scheduleIdOf(name)).describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      const registered = (await refitScheduleIds(this.client).catch(() => [])).map((id) => id.slice(SCHEDULE_PREFIX.length));
      throw new AutomationNotFoundError(name, closest(name, registered));
    }
  }
}
