// BuildMetric's threshold is a string: a number ("0.65") or a SQL query that computes the number.
import { singleSelect, stripComments } from './sqlText.js';

export type Threshold = { kind: 'static'; value: number } | { kind: 'sql'; query: string };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const SQL_START = /^(select|with)\b/i;

export function parseThreshold(threshold: string): Threshold | { error: string } {
  const text = threshold.trim();
  if (!text) return { error: 'is empty: write a number in quotes ("0.65") or a SQL query that returns one' };
  if (NUMBER.test(text)) {
    const value = Number(text);
    return Number.isFinite(value) ? { kind: 'static', value } : { error: `"${text.slice(0, 40)}" is too large to be a threshold` };
  }
  if (!SQL_START.test(stripComments(text))) {
    return {
      error: `"${threshold.length > 80 ? `${threshold.slice(0, 80)}…` : threshold}" is neither a number ("0.65") nor a SQL query (one starting with SELECT or WITH)`,
    };
  }
  const query = singleSelect(text);
  if ('error' in query) return { error: query.error };
  return { kind: 'sql', query: query.query };
}
