import { InvalidArgumentError } from 'commander';

/**
 * Parsers for commander options. Each returns the value or throws an InvalidArgumentError, which
 * commander prints naming the option and the value given, then exits 1:
 *
 * @example
 *   program.option('--partitions <n>', 'entity-hash partitions', positiveInt);
 *   // granary rebuild-online --partitions 0
 *   // error: option '--partitions <n>' argument '0' is invalid. must be a whole number >= 1, got '0'
 */
export function positiveInt(value: string): number {
  const n = wholeNumberOrNaN(value);
  if (!(n >= 1)) throw new InvalidArgumentError(`must be a whole number >= 1, got '${value}'`);
  return n;
}

export function wholeNumber(value: string): number {
  const n = wholeNumberOrNaN(value);
  if (!(n >= 0)) throw new InvalidArgumentError(`must be a whole number >= 0, got '${value}'`);
  return n;
}

/** Digits only ('1e3', '0x10', ' 7' and '' are not whole numbers as users type them). */
function wholeNumberOrNaN(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : NaN;
}

/** A memory size as DuckDB takes it: '512MB', '4GB', '1.5GiB'. */
export function memorySize(value: string): string {
  if (!/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(value.trim())) throw new InvalidArgumentError(`must be a size such as 512MB or 4GB, got '${value}'`);
  return value.trim();
}
