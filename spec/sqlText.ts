// Reading SQL text as far as validation needs: where statements end, skipping what only looks like code
// (string literals, quoted identifiers, comments, PostgreSQL's dollar quoting). A full parser per dialect
// is more than a single-statement check needs; the database still parses the query when it runs.

/** The statements of `sql`, each trimmed, empty ones (";;" or a trailing ";") left out. */
export function sqlStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let index = 0;
  const length = sql.length;
  while (index < length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    if (char === "'" || char === '"' || char === '`') {
      index = endOfQuoted(sql, index, char);
    } else if (char === '-' && next === '-') {
      const newline = sql.indexOf('\n', index);
      index = newline === -1 ? length : newline + 1;
    } else if (char === '/' && next === '*') {
      index = endOfBlockComment(sql, index);
    } else if (char === '$' && /[A-Za-z_$]/.test(next ?? '') && !/[\w$]/.test(sql[index - 1] ?? ' ')) {
      index = endOfDollarQuoted(sql, index);
    } else if (char === ';') {
      statements.push(sql.slice(start, index));
      index += 1;
      start = index;
    } else {
      index += 1;
    }
  }
  statements.push(sql.slice(start));
  return statements.map((statement) => statement.trim()).filter((statement) => stripComments(statement) !== '');
}

/** The text with its comments taken out (string literals kept as they are). */
export function stripComments(sql: string): string {
  let out = '';
  let index = 0;
  while (index < sql.length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    if (char === "'" || char === '"' || char === '`') {
      const end = endOfQuoted(sql, index, char);
      out += sql.slice(index, end);
      index = end;
    } else if (char === '-' && next === '-') {
      const newline = sql.indexOf('\n', index);
      index = newline === -1 ? sql.length : newline + 1;
      out += ' ';
    } else if (char === '/' && next === '*') {
      index = endOfBlockComment(sql, index);
      out += ' ';
    } else {
      out += char;
      index += 1;
    }
  }
  return out.trim();
}

/**
 * A quote doubled inside a literal is part of it ('it''s'). A backslash escapes only in PostgreSQL's
 * E'...' strings: in standard strings (PostgreSQL, DuckDB) it is an ordinary character.
 */
function endOfQuoted(sql: string, open: number, quote: string): number {
  const backslashEscapes = quote === "'" && /[eE]/.test(sql[open - 1] ?? '') && !/\w/.test(sql[open - 2] ?? '');
  let index = open + 1;
  while (index < sql.length) {
    if (backslashEscapes && sql[index] === '\\') {
      index += 2;
    } else if (sql[index] === quote) {
      if (sql[index + 1] === quote) index += 2;
      else return index + 1;
    } else {
      index += 1;
    }
  }
  return sql.length;
}

/** PostgreSQL nests block comments. */
function endOfBlockComment(sql: string, open: number): number {
  let depth = 0;
  let index = open;
  while (index < sql.length) {
    if (sql[index] === '/' && sql[index + 1] === '*') {
      depth += 1;
      index += 2;
    } else if (sql[index] === '*' && sql[index + 1] === '/') {
      depth -= 1;
      index += 2;
      if (depth === 0) return index;
    } else {
      index += 1;
    }
  }
  return sql.length;
}

/** $tag$ ... $tag$ (PostgreSQL); a $ that opens no tag is an ordinary character (a parameter like $1). */
function endOfDollarQuoted(sql: string, open: number): number {
  const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(open));
  if (!tag) return open + 1;
  const close = sql.indexOf(tag[0], open + tag[0].length);
  return close === -1 ? sql.length : close + tag[0].length;
}

/** Longest SQL accepted in a definition: a threshold query, not a program. */
export const MAX_SQL_LENGTH = 64 * 1024;

/**
 * The one read-only query `sql` holds (without its trailing ";"), or why it is not one: every SQL field of a
 * definition (thresholds, metric triggers, canary guards) takes a single SELECT (or WITH … SELECT).
 */
export function singleSelect(sql: string): { query: string } | { error: string } {
  if (sql.length > MAX_SQL_LENGTH) return { error: `is ${sql.length} characters long; a query may have at most ${MAX_SQL_LENGTH}` };
  const statements = sqlStatements(sql);
  if (statements.length === 0) return { error: 'holds no SQL statement: write a SELECT that returns one number' };
  if (statements.length > 1) {
    return { error: `holds more than one SQL statement (${statements.length}): it must be a single SELECT (a ";" inside a string or a comment is fine)` };
  }
  const query = statements[0]!;
  if (!/^(select|with)\b/i.test(stripComments(query))) return { error: 'must be a single SELECT (or WITH … SELECT) query' };
  return { query };
}
