import type { ViewMigrationRecord, ViewMigrations } from './view-migrations.ts';

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
