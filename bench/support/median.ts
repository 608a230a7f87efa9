/**
 * The median, rounded to an integer (benchmark figures are rates and milliseconds).
 *
 * @example
 *   median([3, 1, 2, 10]) // => 3
 */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return Math.round(sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
};
