// What both analytics stores need to know about a query's text before they run it, and what they may
// say about it after: a database's error can quote the data it choked on (a value that would not convert,
// a message raised from a row), and such errors end up in the run's history and notifications, where the
// data must not.
import { sqlStatements, stripComments } from '../../spec/sqlText.js';

/** Statements that change something: refused as not read-only, whatever the database would say. */
const CHANGING =
  /^(insert|update|delete|merge|upsert|replace|create|drop|alter|truncate|comment|grant|revoke|commit|rollback|begin|start|end|abort|savepoint|release|set|reset|copy|attach|detach|install|load|pragma|vacuum|analyze|checkpoint|call|do|lock|listen|notify|prepare|execute|deallocate|discard|import|export|refresh|cluster|reindex|security|use)\b/i;

export type QueryShape =
  { kind: 'select'; query: string } | { kind: 'changing'; keyword: string } | { kind: 'several'; count: number } | { kind: 'other'; query: string };

/** One statement that reads (SELECT, WITH, VALUES, TABLE), one that changes, several, or something else. */
export function queryShape(sql: string): QueryShape {
  const statements = sqlStatements(sql);
  if (statements.length > 1) return { kind: 'several', count: statements.length };
  const query = statements[0] ?? sql.trim();
  const text = stripComments(query);
  const changing = CHANGING.exec(text);
  if (changing) return { kind: 'changing', keyword: changing[1]!.toUpperCase() };
  if (/^(select|with|values|table|from)\b|^\(/i.test(text)) return { kind: 'select', query };
  return { kind: 'other', query };
}

/**
 * A database error as it may be shown: quoted text that is not part of the query (so came from the data)
 * is replaced by '…'; errors raised while reading rows, whose words may be data themselves, keep only
 * their kind and what can be said without the value.
 */
export function withoutDataValues(message: string, sql: string, options: { fromData: boolean }): string {
  // Errors about the query (syntax, names, binding) hold the query's words and the schema's names, no data.
  if (!options.fromData) return message;
  const masked = message.replace(/'((?:[^']|'')*)'|"((?:[^"]|"")*)"/g, (quoted, single?: string, double?: string) => {
    const inner = single ?? double ?? '';
    return inner === '' || sql.toLowerCase().includes(inner.toLowerCase()) ? quoted : quoted[0] === "'" ? "'…'" : '"…"';
  });
  const [firstLine] = masked.split('\n');
  const category = /^([A-Z][\w ]*Error):/.exec(firstLine ?? '')?.[1] ?? 'error';
  const column = /from source column (\S+)/.exec(message)?.[1];
  const target = /\bto ([A-Z][A-Z0-9_]*)\b/.exec(firstLine ?? '')?.[1];
  const what = /convert|cast|invalid input syntax|invalid .* format/i.test(message)
    ? `a value could not be converted${target ? ` to ${target}` : ''}`
    : /overflow|out of range/i.test(message)
      ? 'a value was out of range'
      : 'it failed on a value in the data';
  return `${category}: ${what}${column ? ` (column ${column})` : ''}; the value is not shown`;
}
