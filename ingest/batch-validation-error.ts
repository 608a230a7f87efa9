/**
 * A batch of input rows that does not fit its view. Nothing of the batch is written. The message
 * names the view and the first few problems, each with its 1-based row number (data rows, the
 * CSV header not counted) and column.
 *
 * @example
 *   // BatchValidationError: view 'user_spend_features': 2 problems in the batch
 *   //   row 2, column 'spend_7d_avg' (float32): 'abc' is not a number
 *   //   row 4, column 'user_id' (join key, string): the join key is null or missing
 */
export interface BatchProblem {
  /** 1-based data row, or null for a problem with the batch as a whole (e.g. a missing column). */
  readonly row: number | null;
  readonly column: string | null;
  /** What the view declares for the column, e.g. 'float32' or 'join key, string'. */
  readonly declared?: string;
  readonly message: string;
}

export const SHOWN_PROBLEMS = 5;

export class BatchValidationError extends Error {
  readonly view: string;
  /** The first problems, by row (at most a few per column). */
  readonly problems: readonly BatchProblem[];
  /** How many problems were found in all. */
  readonly problemCount: number;

  constructor(view: string, problems: readonly BatchProblem[], problemCount = problems.length) {
    const shown = problems.slice(0, SHOWN_PROBLEMS).map((p) => `  ${formatProblem(p)}`);
    const more = problemCount > shown.length ? [`  ... and ${problemCount - shown.length} more`] : [];
    const noun = problemCount === 1 ? 'problem' : 'problems';
    super([`view '${view}': ${problemCount} ${noun} in the batch, nothing was written`, ...shown, ...more].join('\n'));
    this.name = 'BatchValidationError';
    this.view = view;
    this.problems = problems;
    this.problemCount = problemCount;
  }
}

function formatProblem(p: BatchProblem): string {
  const column = p.column === null ? null : `column '${p.column}'${p.declared ? ` (${p.declared})` : ''}`;
  const where = [p.row === null ? null : `row ${p.row}`, column].filter(Boolean);
  return where.length > 0 ? `${where.join(', ')}: ${p.message}` : p.message;
}
