// Visibility queries for Refit's runs, in one place with one rule for values: every value is a quoted
// literal with its quotes and backslashes escaped, so a name can never end the literal and add a clause.
import { SearchAttributeKeys, WorkflowTypes } from './names.js';

export interface RunFilter {
  types: string[];
  automation?: string;
  modelId?: string;
  /** Only runs still running. */
  running?: boolean;
  deployed?: boolean;
  approval?: string;
}

export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function runsQuery(filter: RunFilter): string {
  const clauses = [filter.types.length === 1 ? `WorkflowType = ${literal(filter.types[0]!)}` : `WorkflowType IN (${filter.types.map(literal).join(', ')})`];
  if (filter.running) clauses.push(`ExecutionStatus = 'Running'`);
  if (filter.automation !== undefined) clauses.push(`${SearchAttributeKeys.automation.name} = ${literal(filter.automation)}`);
  if (filter.modelId !== undefined) clauses.push(`${SearchAttributeKeys.modelId.name} = ${literal(filter.modelId)}`);
  if (filter.deployed !== undefined) clauses.push(`${SearchAttributeKeys.deployed.name} = ${filter.deployed}`);
  if (filter.approval !== undefined) clauses.push(`${SearchAttributeKeys.approval.name} = ${literal(filter.approval)}`);
  return clauses.join(' AND ');
}

/** Builds of an automation running now (visibility is eventually consistent: one started an instant ago may be missed). */
export function runningBuildsQuery(automation: string): string {
  return runsQuery({ types: [WorkflowTypes.buildDeploy], running: true, automation });
}
