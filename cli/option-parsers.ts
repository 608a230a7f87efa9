/**
 * Parsers for commander options: each returns the value or throws a message commander prints
 * after the option's name.
 *
 * @example
 *   program.option('--partitions <n>', 'entity-hash partitions', positiveInt);
 */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`must be a whole number >= 1, got '${value}'`);
  return n;
}

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`must be a whole number >= 0, got '${value}'`);
  return n;
}
