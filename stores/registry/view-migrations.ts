export type ViewMigrationState = 'running' | 'switched' | 'completed' | 'rolled-back' | 'failed';

/** A migration of a view from one version to a later one (stores/registry/migration-queries.ts). */
export interface ViewMigrationRecord {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly state: ViewMigrationState;
  /** Content hash of the target version's migrateFrom spec when the migration (re)started. */
  readonly specHash: string;
  readonly workflowId: string;
  /** Why it failed or was rolled back. */
  readonly message?: string;
  readonly startedAt: Date;
  readonly switchedAt?: Date;
  readonly finishedAt?: Date;
  readonly updatedAt: Date;
}

/** Migrations of a view between versions (migration-queries.ts): begun, switched, rolled back, finished. */
export interface ViewMigrations {
  /** Records a migration as running (again, after a failure or rollback); returns it as it is otherwise. */
  beginMigration(input: { view: string; from: number; to: number; specHash: string; workflowId: string }): Promise<ViewMigrationRecord>;
  /** Migrations of the project (of one view, of one pair of versions), by view and versions. */
  migrations(filter?: { view?: string; from?: number; to?: number }): Promise<ViewMigrationRecord[]>;
  /** One transaction: `to` active, `from` deprecated, the migration switched. A repeat is a no-op. */
  switchMigration(view: string, from: number, to: number): Promise<ViewMigrationRecord>;
  /** One transaction: `from` active, `to` migrating, the migration rolled back; refused once completed. */
  rollbackMigration(view: string, from: number, to: number, message?: string): Promise<ViewMigrationRecord>;
  finishMigration(view: string, from: number, to: number, state: 'completed' | 'failed', message?: string): Promise<ViewMigrationRecord>;
}
