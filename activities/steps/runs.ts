// What a run tells others: notifications, and which builds of an automation run now.
import { Context } from '@temporalio/activity';
import { runningBuildsQuery } from '../../shared/visibility.js';
import type { AutomationModel } from '../../spec/schema/automation.js';
import type { ActivityDependencies } from '../dependencies.js';
import { sendNotification, type Delivery, type RunEvent } from '../notify/sendNotification.js';

export function createRunActivities(deps: ActivityDependencies) {
  return {
    /** Builds of an automation that are running now (visibility is eventually consistent: a build started an instant ago may be missed). */
    async findRunningBuilds(input: { automation: string }): Promise<string[]> {
      const ids: string[] = [];
      const query = runningBuildsQuery(input.automation);
      for await (const execution of Context.current().client.workflow.list({ query })) ids.push(execution.workflowId);
      return ids;
    },

    async sendRunNotification(input: {
      notification: NonNullable<AutomationModel['on_error']>;
      event: Omit<RunEvent, 'run_url' | 'workflow_id'>;
    }): Promise<Delivery> {
      const { workflowExecution, workflowNamespace } = Context.current().info;
      const workflowId = workflowExecution?.workflowId ?? '';
      const runUrl = deps.webUiUrl
        ? `${deps.webUiUrl}/namespaces/${workflowNamespace}/workflows/${encodeURIComponent(workflowId)}/${workflowExecution?.runId ?? ''}/history`
        : `temporal://${workflowNamespace}/${workflowId}`;
      return sendNotification(input.notification, { ...input.event, run_url: runUrl, workflow_id: workflowId }, deps.secrets, { policy: deps.webhookPolicy });
    },
  };
}
