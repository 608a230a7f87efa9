import type { Command } from 'commander';
import { loadFeatureRepo } from '../../definitions/feature-repo.ts';
import { commandAction } from '../command-action.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { formatPlan } from '../format-plan.ts';
import { globalOptions } from '../global-options.ts';
import { withRegistry } from '../with-registry.ts';
import { printJson, printLines } from '../output.ts';

/**
 * `granary plan`: what `granary apply` would change, field by field, and what that does to each
 * served feature service. Exit code 0 when nothing would change, 2 when the changes apply cleanly
 * and every served service returns what it did, 3 when some are breaking (apply refuses them),
 * 4 when they apply but break the consumers of a feature service (removed, or other columns or
 * served values).
 */
export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('show what apply would change in the registry, field by field (ADDITIVE, BREAKING or BREAKS CONSUMERS), and the effect on each feature service')
    .addHelpText(
      'after',
      '\nExit codes: 0 no changes, 1 error, 2 changes that apply cleanly, 3 breaking changes (need a new view version; apply refuses them),\n' +
        '4 changes that apply but break consumers of a feature service (removed, or serving other columns or values).',
    )
    .action(
      commandAction(async (_options: object, command: Command) => {
        const options = globalOptions(command);
        const repo = await loadFeatureRepo(options.repo);
        const plan = await withRegistry(options, (registry) => registry.plan(repo));
        if (options.json) printJson(plan);
        else if (plan.changes.length === 0) printLines(`project '${plan.project}': no changes; the registry matches the repo.`);
        else {
          const next = plan.breaking
            ? 'Breaking changes need a new feature view version: granary apply will refuse this plan.'
            : plan.breaksConsumers
              ? 'granary apply will apply this plan, and the feature services marked ! change what they serve at once: ' +
                'update the models reading them first, or keep each service as it is (list its features explicitly) and add a new one.'
              : 'Run granary apply to apply these changes.';
          printLines([...formatPlan(plan), '', next]);
        }
        if (plan.breaking) return EXIT_CODES.breaking;
        if (plan.breaksConsumers) return EXIT_CODES.breaksConsumers;
        return plan.changes.length ? EXIT_CODES.changes : EXIT_CODES.ok;
      }),
    );
}
