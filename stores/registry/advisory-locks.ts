/**
 * The registry's advisory lock ids. Two-key locks: the first key says what is locked (one class
 * per purpose, so Granary's locks never collide with each other), the second is `hashtext()` of
 * what it is locked for (a project, a view version). The values are arbitrary but fixed forever.
 *
 * @example
 *   await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS.apply, project]);
 */
export const LOCK_CLASS = {
  /** Schema migrations of the registry itself (session lock, second key 0). */
  migrate: 0x4752_0001,
  /** Applies of one project (transaction lock). */
  apply: 0x4752_0002,
  /** Commits of one view version, so their seqs become visible in order (transaction lock). */
  commit: 0x4752_0003,
} as const;
