import type { ViewMigrationRecord, ViewMigrations } from './view-migrations.ts';
import type { ObjectStatus } from './definition-registry.ts';

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
const RANK: Record<ObjectStatus, number> = { active: 0, deprecated: 1, migrating: 2, removed: 3 };

export function currentVersionFirst(a: { version: number; status: ObjectStatus }, b: { version: number; status: ObjectStatus }): number {
  return RANK[a.status] - RANK[b.status] || b.version - a.version;
}

/**
 * The completed migration that retired a view version (it takes no more writes), if any.
 *
 * @example
 *   const retired = await retiringMigration(registry, 'user_spend', 1);
 *   if (retired) throw new Error(retiredMessage('user_spend', 1, retired));
 */
export async function retiringMigration(registry: Pick<ViewMigrations, 'migrations'>, view: string, version: number): Promise<ViewMigrationRecord | undefined> {
  return (await registry.migrations({ view, from: version })).find((m) => m.state === 'completed');
}

export function retiredMessage(view: string, version: number, retired: ViewMigrationRecord): string {
  const when = retired.finishedAt ? ` (completed ${retired.finishedAt.toISOString()})` : '';
  return `feature view '${view}' version ${version} was retired by its migration to version ${retired.to}${when}: it takes no more writes; push to version ${retired.to}`;
}
