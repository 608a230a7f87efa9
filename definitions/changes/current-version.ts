/** A registered object's status; views move active -> deprecated (or migrating -> active) through migrations. */
export type ObjectStatus = 'active' | 'migrating' | 'deprecated' | 'removed';

const RANK: Record<ObjectStatus, number> = { active: 0, deprecated: 1, migrating: 2, removed: 3 };

/**
 * Which version of a feature view an unpinned reference (`'view:feature'`, a service item
 * without `@version`, a push or a read without a version) means: the highest 'active' version;
 * failing that the highest deprecated one, then migrating, then removed. A version declared with
 * `migrateFrom` is registered as 'migrating' and becomes 'active' only when its migration
 * switches (deprecating the old one), so adding it changes nothing for readers until then.
 *
 * @example
 *   [{ version: 2, status: 'migrating' }, { version: 1, status: 'active' }].sort(currentVersionFirst)[0] // => version 1
 */
export function currentVersionFirst(a: { version: number; status: ObjectStatus }, b: { version: number; status: ObjectStatus }): number {
  return RANK[a.status] - RANK[b.status] || b.version - a.version;
}
