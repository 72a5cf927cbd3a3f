// The rule every store applies to a threshold query's result: exactly one row, exactly one numeric
// column, a finite number that a double holds exactly. Stores only describe what came back.
import { AnalyticsQueryError } from './analyticsQueryError.js';

/** The first value of the result, classified by its column's type (not by what the text looks like). */
export type FirstValue =
  | { kind: 'null' }
  /** Floating-point and decimal columns, already a JS number. */
  | { kind: 'number'; value: number }
  /** Integer columns of any width, exact. */
  | { kind: 'integer'; value: bigint }
  /** Any other column type; its value is never shown (it may be any data). */
  | { kind: 'other' };

/** What a query returned, as far as the rule needs to know. */
export interface ResultSummary {
  /** Rows read; when `stoppedReading` is set there may be more (the store did not read to the end). */
  rowCount: number;
  stoppedReading?: boolean;
  columns: readonly { name: string; type: string }[];
  /** Row 1, column 1; absent when there is no row or no column. */
  first?: FirstValue;
}

const CAST_HINT = 'CAST(... AS double precision)';

/** The one number the threshold query computed, or an error that says how to fix the query. */
export function thresholdNumber(result: ResultSummary, store: string): number {
  const fail = (kind: AnalyticsQueryError['kind'], message: string) => new AnalyticsQueryError(kind, message);
  if (result.rowCount === 0) {
    throw fail(
      'no_rows',
      `the threshold query returned no rows from ${store}; it must return exactly one row: ` +
        'check its WHERE clause, or aggregate (an aggregate without GROUP BY, like avg(...), always returns one row)',
    );
  }
  if (result.rowCount > 1) {
    const rows = result.stoppedReading ? `at least ${result.rowCount}` : String(result.rowCount);
    throw fail(
      'several_rows',
      `the threshold query returned ${rows} rows from ${store}; it must return exactly one row: ` + 'aggregate it (avg(...), max(...)) or add LIMIT 1',
    );
  }
  const [column, ...others] = result.columns;
  if (!column || others.length > 0) {
    const names = result.columns.map((c) => c.name).join(', ');
    throw fail(
      'several_columns',
      `the threshold query returned ${result.columns.length} columns${names ? ` (${names})` : ''} from ${store}; ` +
        'it must return exactly one numeric column: select only the value to compare with the threshold',
    );
  }
  const value = result.first ?? { kind: 'null' };
  const named = `column "${column.name}" (${column.type})`;
  switch (value.kind) {
    case 'null':
      throw fail(
        'null',
        `the threshold query returned NULL in ${named} from ${store}; it must return a number: ` +
          'an aggregate over no rows is NULL, so check its WHERE clause, or give a default with coalesce(..., 0)',
      );
    case 'other':
      throw fail(
        'not_a_number',
        `the threshold query returned ${named} from ${store}, which is not a numeric type (its value is not shown); ` +
          `it must return a number: compute one, or cast the column: ${CAST_HINT}`,
      );
    case 'integer':
      if (value.value > BigInt(Number.MAX_SAFE_INTEGER) || value.value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw fail(
          'not_a_number',
          `the threshold query returned an integer in ${named} from ${store} beyond those a double holds ` +
            `exactly (±${Number.MAX_SAFE_INTEGER}); scale it down, or cast it if an approximate value is fine: ${CAST_HINT}`,
        );
      }
      return Number(value.value);
    case 'number':
      if (!Number.isFinite(value.value)) {
        throw fail(
          'not_a_number',
          `the threshold query returned ${value.value} in ${named} from ${store}; it must return a finite number: ` +
            'look for a division by zero or an empty input',
        );
      }
      return value.value;
  }
}
