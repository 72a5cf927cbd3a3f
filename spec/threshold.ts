// BuildMetric's threshold is a string: a number ("0.65") or a SQL query that computes the number.

export type Threshold = { kind: 'static'; value: number } | { kind: 'sql'; query: string };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const SQL_START = /^(select|with)\b/i;

export function parseThreshold(threshold: string): Threshold | { error: string } {
  const text = threshold.trim();
  if (!text) return { error: 'is empty: write a number in quotes ("0.65") or a SQL query that returns one' };
  if (NUMBER.test(text)) return { kind: 'static', value: Number(text) };
  if (!SQL_START.test(stripLeadingComments(text))) {
    return { error: `"${threshold}" is neither a number ("0.65") nor a SQL query (one starting with SELECT or WITH)` };
  }
  const body = text.replace(/;\s*$/, '');
  if (body.includes(';')) return { error: 'holds more than one SQL statement: the threshold query must be a single SELECT' };
  return { kind: 'sql', query: body };
}

function stripLeadingComments(sql: string): string {
  return sql.replace(/^(\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/))*\s*/, '');
}
