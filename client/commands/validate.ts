import path from 'node:path';
import { loadDefinitions, type LoadResult, type LocatedProblem } from '../../spec/loader.js';
import { summarizeAutomation } from '../../spec/summary.js';
import { formatPath } from '../../spec/validate.js';
import { EXIT, paint } from '../output.js';

export async function validateCommand(targets: string[], options: { json?: boolean; allowCode?: boolean }): Promise<number> {
  const result = await loadDefinitions(targets, { allowCode: options.allowCode });
  if (options.json) {
    console.log(JSON.stringify(toJson(result), null, 2));
  } else {
    printHuman(result);
  }
  return result.errors.length ? EXIT.failed : EXIT.ok;
}

function where(problem: LocatedProblem): string {
  const file = path.relative(process.cwd(), problem.file) || problem.file;
  const position = problem.position ? `:${problem.position.line}:${problem.position.column}` : '';
  const definition = problem.definition && !problem.position ? ` (${problem.definition})` : '';
  return `${file}${position}${definition}`;
}

function printHuman(result: LoadResult): void {
  for (const loaded of result.automations) {
    console.log(`${paint('green', '✓')} ${paint('bold', loaded.automation.name)}  ${summarizeAutomation(loaded.automation)}`);
  }
  printLoadProblems(result);
  summary(result);
}

/** Every warning and error of loading, one line each: file:line:column, severity, field path, message. */
export function printLoadProblems(result: LoadResult): void {
  for (const problem of [...result.warnings, ...result.errors]) {
    const label = problem.severity === 'error' ? paint('red', 'error') : problem.severity === 'warning' ? paint('yellow', 'warning') : paint('cyan', 'note');
    const field = problem.path.length ? `${formatPath(problem.path)}: ` : '';
    console.log(`${where(problem)}  ${label}  ${field}${problem.message}`);
    if (problem.excerpt) console.log(problem.excerpt.replace(/^/gm, '    '));
  }
}

function summary(result: LoadResult): void {
  const fileCount = new Set(result.errors.map((problem) => problem.file)).size;
  const valid = `${result.automations.length} valid automation${result.automations.length === 1 ? '' : 's'} in ${result.files.length} file${result.files.length === 1 ? '' : 's'}`;
  console.log(
    result.errors.length
      ? paint('red', `${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in ${fileCount} file${fileCount === 1 ? '' : 's'}; ${valid}`)
      : valid,
  );
}

function toJson(result: LoadResult) {
  const problem = (p: LocatedProblem) => ({
    file: p.file,
    definition: p.definition || undefined,
    line: p.position?.line,
    column: p.position?.column,
    path: formatPath(p.path),
    message: p.message,
    severity: p.severity,
  });
  return {
    ok: result.errors.length === 0,
    automations: result.automations.map((loaded) => ({
      name: loaded.automation.name,
      file: loaded.file,
      definition: loaded.definition || undefined,
      summary: summarizeAutomation(loaded.automation),
      automation: loaded.automation,
    })),
    errors: result.errors.map(problem),
    warnings: result.warnings.map(problem),
  };
}
