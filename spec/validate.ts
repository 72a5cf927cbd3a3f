import type { z } from 'zod';
import { lintAutomation } from './lint.js';
import type { PathSegment, Problem } from './problems.js';
import { Automation, type AutomationModel } from './schema/automation.js';
import { allowedKeysAt, unionOptionsAt, valueAt } from './schemaWalk.js';
import { closest } from './suggest.js';

export type { PathSegment, Problem } from './problems.js';

export type ValidationResult = { ok: true; automation: AutomationModel; warnings: Problem[] } | { ok: false; errors: Problem[]; warnings: Problem[] };

/** "action.deployment_spec.auto_scale_config.triggers[0].query_spec.time_period" */
export function formatPath(path: readonly PathSegment[]): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : /^[A-Za-z_][\w-]*$/.test(segment) ? `${index ? '.' : ''}${segment}` : `[${JSON.stringify(segment)}]`,
    )
    .join('');
}

export function describeProblem(problem: Problem): string {
  return problem.path.length ? `${formatPath(problem.path)}: ${problem.message}` : problem.message;
}

/** Validates one automation definition (from YAML or the TypeScript builders); every problem, not the first. */
export function validateAutomation(input: unknown): ValidationResult {
  const parsed = Automation.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((issue) => explainIssue(issue, input));
    return { ok: false, errors: dedupe(errors), warnings: [] };
  }
  return { ok: true, automation: parsed.data, warnings: lintAutomation(parsed.data) };
}

function explainIssue(issue: z.core.$ZodIssue, input: unknown): Problem[] {
  const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  const error = (message: string, at: PathSegment[] = path): Problem => ({ path: at, message, severity: 'error' });
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(Automation, input, path);
      return issue.keys.map((key) => {
        const suggestion = closest(key, allowed);
        const hint = suggestion ? `did you mean "${suggestion}"?` : `allowed here: ${allowed.join(', ')}`;
        return error(`unknown key "${key}": ${hint}`, [...path, key]);
      });
    }
    case 'invalid_union': {
      if (!('discriminator' in issue) || !issue.discriminator) return [error(issue.message)];
      const unionPath = path.slice(0, -1);
      const options = unionOptionsAt(Automation, input, unionPath);
      const names = options.map((option) => option.name);
      const given = valueAt(input, path);
      if (valueAt(input, unionPath) === undefined) return [error('is required', unionPath)];
      if (given === undefined) {
        const keys = Object.keys(valueAt(input, unionPath) as object);
        const guess = options
          .map((option) => ({ name: option.name, score: keys.filter((key) => option.keys.includes(key)).length }))
          .sort((a, b) => b.score - a.score)[0];
        const hint = guess && guess.score > 0 ? ` (did you mean type: ${guess.name}?)` : '';
        return [error(`is required: one of ${names.join(', ')}${hint}`)];
      }
      const suggestion = typeof given === 'string' ? closest(given, names) : undefined;
      return [error(`${JSON.stringify(given)} is not one of ${names.join(', ')}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`)];
    }
    case 'invalid_type': {
      if (issue.input === undefined && !issue.message.startsWith('is required')) return [error('is required')];
      const options = unionOptionsAt(Automation, input, path).map((option) => option.name);
      if (options.length) return [error(`must be an object with a type: one of ${options.join(', ')}`)];
      const defaultMessage = /^Invalid input: expected (\w+), received (\w+)/.exec(issue.message);
      if (defaultMessage) return [error(`must be ${article(defaultMessage[1]!)}, not ${article(describeType(issue.input))}`)];
      return [error(issue.message)];
    }
    case 'invalid_key':
      // A record's key failed its own check: that check's message says what is wrong with the key.
      return [error(issue.issues[0]?.message ?? 'is not an allowed key')];
    default:
      return [error(issue.message)];
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  return typeof value;
}

function article(type: string): string {
  if (type === 'null') return 'null';
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = describeProblem(problem);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
