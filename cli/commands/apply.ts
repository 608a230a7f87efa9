import type { Command } from 'commander';
import { loadFeatureRepo } from '../../definitions/feature-repo.ts';
import { BreakingChangeError } from '../../stores/registry/breaking-change-error.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatPlan } from '../format-plan.ts';
import { globalOptions } from '../global-options.ts';
import { withRegistry } from '../with-registry.ts';
import { printJson, printLines } from '../output.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import type { GlobalOptions } from '../global-options.ts';
import type { FeatureRepo } from '../../definitions/feature-repo.ts';
import type { MigrationHandle } from '../../sdk/view-migration.ts';

/**
 * `granary apply`: registers the repo's definitions in one transaction. Refuses breaking changes
 * (exit code 3, naming the field and what to do) and writes nothing then; applying an unchanged
 * repo is a no-op. With `--migrate` (what CI runs on main), it then starts the migration of each
 * view version declared with `migrateFrom` whose migration has not completed, without waiting:
 * a re-run attaches to the running ones (their workflow ids are derived from view and versions).
 */
export function registerApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('register the feature repo in the registry (refuses breaking changes; re-applying is a no-op)')
    .option('--migrate', 'then start the migration of every view version declared with migrateFrom and not migrated yet (attaches to running ones)')
    .addHelpText('after', '\nExit codes: 0 applied or nothing to apply, 1 error, 3 refused: breaking changes need a new view version.')
    .action(
      commandAction(async (opts: { migrate?: boolean }, command: Command) => {
        const options = globalOptions(command);
        const repo = await loadFeatureRepo(options.repo);
        try {
          const plan = await withRegistry(options, async (registry, config) => {
            // The first apply records where the project's offline data lives; later ones (and
            // every other process) must be configured with that same store (stores/offline-home.ts).
            const { checkOfflineHome } = await import('../../stores/offline-home.ts');
            await checkOfflineHome(registry, config.offline, { record: true });
            return registry.apply(repo);
          });
          const migrations = opts.migrate ? await startMigrations(options, repo) : [];
          if (options.json) printJson({ ...plan, applied: plan.changes.length > 0, ...(opts.migrate ? { migrations } : {}) });
          else {
            if (plan.changes.length === 0) printLines(`project '${plan.project}': no changes; the registry already matches the repo.`);
            else printLines([...formatPlan(plan), '', `Applied ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}.`]);
            for (const m of migrations) {
              printLines(`migration ${m.workflowId}: ${m.progress.state} (follow it with granary migrate ${m.progress.view} --to ${m.progress.to})`);
            }
            if (opts.migrate && migrations.length === 0) printLines('No view versions to migrate.');
          }
          return EXIT_CODES.ok;
        } catch (error) {
          if (error instanceof BreakingChangeError) {
            if (options.json) printJson({ ...error.plan, applied: false });
            else printLines([...formatPlan(error.plan), '', 'Nothing was applied.']);
          }
          throw error;
        }
      }),
    );
}

/** Starts (or attaches to) the migration of each repo view version declared with migrateFrom and not completed. */
async function startMigrations(options: GlobalOptions, repo: FeatureRepo): Promise<MigrationHandle[]> {
  const targets = repo.views.filter((v) => v.migrateFrom);
  if (targets.length === 0) return [];
  return withFeatureStore(options, async (store) => {
    const completed = new Set((await store.migrations()).filter((m) => m.state === 'completed').map((m) => `${m.view}@${m.to}`));
    const handles: MigrationHandle[] = [];
    for (const view of targets) {
      if (completed.has(`${view.name}@${view.version}`)) continue;
      handles.push(await store.migrate(view.name, { to: view.version }));
    }
    return handles;
  });
}
