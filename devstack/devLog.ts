// What `refit dev` prints of the SDK's log: a line per run outcome (the workflow logs one, with `refitOutcome`), and
// warnings and errors cut to one line each, without their stack frames. REFIT_LOG_LEVEL=DEBUG (or INFO) prints the
// SDK's entries whole instead.
export interface LogEntry {
  level: string;
  message: string;
  meta?: Record<string, unknown>;
}

const MARKS: Record<string, string> = { deployed: '✔', not_deployed: '•', failed: '✖' };

/** The line to print for an entry, or undefined to print nothing (verbose logging prints everything its own way). */
export function devLogLine(entry: LogEntry): string | undefined {
  const outcome = entry.meta?.refitOutcome;
  if (typeof outcome === 'string') return `${MARKS[outcome] ?? '•'} ${entry.message}`;
  if (entry.level !== 'WARN' && entry.level !== 'ERROR') return undefined;
  // The SDK's own noise for a worker that polls a queue with activities only.
  if (entry.message.startsWith('No workflows registered')) return undefined;
  const error = entry.meta?.error as { message?: string } | string | undefined;
  const reason = typeof error === 'string' ? error : error?.message;
  const where = [entry.meta?.activityType, entry.meta?.workflowType].filter((part) => typeof part === 'string').join(' ');
  const text = `${entry.level.toLowerCase()}: ${entry.message}${where ? ` (${where})` : ''}${reason ? `: ${reason.split('\n')[0]}` : ''}`;
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
