/**
 * The arithmetic of distribution drift, on bin counts (the counting itself runs in DuckDB,
 * distribution-sql.ts). PSI = sum over bins of (current - baseline) * ln(current / baseline),
 * each share floored at 1e-4 before the logarithm (an empty bin would make it infinite).
 *
 * @example
 *   psi([0.5, 0.5], [0.5, 0.5]) // => 0
 *   psi([0.5, 0.5], [0.9, 0.1]) // => 0.878...
 */
export const SHARE_FLOOR = 1e-4;

/** Deciles: 9 edges make 10 bins, the outer ones open to -inf and +inf. */
export const DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;

export function psi(baseline: readonly number[], current: readonly number[]): number {
  if (baseline.length !== current.length) throw new RangeError(`psi: ${baseline.length} baseline bins but ${current.length} current ones`);
  let total = 0;
  for (let i = 0; i < baseline.length; i++) {
    const b = Math.max(baseline[i]!, SHARE_FLOOR);
    const c = Math.max(current[i]!, SHARE_FLOOR);
    total += (c - b) * Math.log(c / b);
  }
  return total;
}

/** Counts as shares of their sum (all zeros when the sum is 0). */
export function sharesOf(counts: readonly number[]): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (sum === 0 ? 0 : c / sum));
}
