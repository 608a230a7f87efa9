/**
 * Thrown by an offline store when a key holds no object, whichever the backend.
 *
 * @example
 *   await store.getBytes('fraud/missing.parquet') // throws ObjectNotFoundError: no object at 'fraud/missing.parquet' in s3://granary/offline
 */
export class ObjectNotFoundError extends Error {
  readonly key: string;

  constructor(key: string, root: string) {
    super(`no object at '${key}' in ${root}`);
    this.name = 'ObjectNotFoundError';
    this.key = key;
  }
}
