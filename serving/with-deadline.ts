/**
 * Rejects with `onTimeout()` when the promise has not settled within `ms` (the promise itself
 * keeps running; its outcome is ignored). `ms <= 0` or Infinity: no deadline.
 *
 * @example
 *   await withDeadline(registry.listObjects(), 1000, () => new Error('registry: no answer within 1000 ms'));
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!(ms > 0) || ms === Infinity) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
