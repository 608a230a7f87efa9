import type { CommitLog } from './commit-log.ts';
import type { DefinitionRegistry } from './definition-registry.ts';
import type { OnlineState } from './online-state.ts';
import type { ProjectHome } from './project-home.ts';
import type { ViewMigrations } from './view-migrations.ts';
import type { ViewSnapshots } from './view-snapshots.ts';

/**
 * The registry's contract (PostgreSQL), per project, as the sum of its parts, each in a file
 * named for it: the definitions (definition-registry.ts), the ordered offline commit log
 * (commit-log.ts), the online state (online-state.ts: watermarks.ts, generations.ts,
 * cut-over.ts), view migrations (view-migrations.ts), the project's offline home
 * (project-home.ts) and compacted snapshots (view-snapshots.ts). A caller that needs one part takes that part (or a Pick of it).
 *
 * @example
 *   const registry: Registry = new PostgresRegistry({ url: config.registry.url, project: 'fraud' });
 *   await registry.migrate();
 *   await registry.activeGeneration('user_spend_features', 1) // => { generation: 1, state: 'active', ... }
 */
export interface Registry extends DefinitionRegistry, CommitLog, OnlineState, ViewMigrations, ProjectHome, ViewSnapshots {
  readonly project: string;

  /** Creates or upgrades the registry's own tables (versioned, idempotent, safe concurrently). */
  migrate(): Promise<void>;

  close(): Promise<void>;
}
