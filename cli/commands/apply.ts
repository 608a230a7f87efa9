import type { Command } from 'commander';
import { loadFeatureRepo } from '../../definitions/feature-repo.ts';
import { BreakingChangeError } from '../../stores/registry/breaking-change-error.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatPlan } from '../format-plan.ts';
import { globalOptions } from '../global-options.ts';
import { withRegistry } from '../with-registry.ts';
import { printJson, printLines } from '../output.ts';

/**
 * `granary apply`: registers the repo's definitions in one transaction. Refuses breaking changes
 * (exit code 3, naming the field and what to do) and writes nothing then; applying an unchanged
 * repo is a no-op.
 */
export function registerApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('register the feature repo in the registry (refuses breaking changes; re-applying is a no-op)')
    .addHelpText('after', '\nExit codes: 0 applied or nothing to apply, 1 error, 3 refused: breaking changes need a new view version.')
    .action(
      commandAction(async (_options: object, command: Command) => {
        const options = globalOptions(command);
        const repo = await loadFeatureRepo(options.repo);
        try {
          const plan = await withRegistry(options, (registry) => registry.apply(repo));
          if (options.json) printJson({ ...plan, applied: plan.changes.length > 0 });
          else if (plan.changes.length === 0) printLines(`project '${plan.project}': no changes; the registry already matches the repo.`);
          else printLines([...formatPlan(plan), '', `Applied ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'}.`]);
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
