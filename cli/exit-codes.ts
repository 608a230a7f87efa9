/**
 * The `granary` command's exit codes, the same for every command.
 *
 * @example
 *   process.exitCode = EXIT_CODES.changes; // `granary plan` found changes that apply cleanly
 */
export const EXIT_CODES = {
  /** Done; for plan, nothing to change. */
  ok: 0,
  /** Any error: bad definition or config, registry unreachable, bad arguments. */
  error: 1,
  /** Plan: changes that apply cleanly. */
  changes: 2,
  /** Plan or apply: breaking changes that need a new view version. */
  breaking: 3,
  /**
   * Plan: changes that apply, but break consumers of a feature service (removed, or serving other
   * columns or values): update the models reading it first.
   */
  breaksConsumers: 4,
} as const;
