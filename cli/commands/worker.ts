import type { Command } from 'commander';
import { loadConfig } from '../../config/granary-config.ts';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { positiveInt } from '../option-parsers.ts';
import { reportError } from '../report-error.ts';

/**
 * `granary worker`: runs a Temporal worker for Granary's workflows and activities until
 * SIGINT or SIGTERM (in-flight activities finish first). Run more of them to spread the work.
 * With `--repo DIR`, the worker can run the TypeScript transforms of that feature repo's view
 * migrations (`migrateFrom.transform`); without it, such a migration stops and says so.
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("run a worker for Granary's workflows and activities (until SIGINT/SIGTERM)")
    .option('--task-queue <name>', 'the task queue to poll (default: temporal.taskQueue of the config)')
    .option('--max-activities <n>', 'activities this worker runs at once (default 8); each rebuild partition or slice holds its rows in memory', positiveInt)
    .action(
      commandAction(async (opts: { taskQueue?: string; maxActivities?: number }, command: Command) => {
        const config = loadConfig({ repoDir: globalOptions(command).repo });
        // Given explicitly, the repo is also where migrations find their TypeScript transforms.
        const featureRepoDir = (command.optsWithGlobals() as { repo?: string }).repo;
        const bundle = process.env.GRANARY_WORKFLOW_BUNDLE;
        const { createGranaryWorker, installWorkerLogging } = await import('../../workers/granary-worker.ts');
        installWorkerLogging();
        const worker = await createGranaryWorker(config, {
          ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
          ...(opts.maxActivities ? { maxConcurrentActivityTaskExecutions: opts.maxActivities } : {}),
          ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
          ...(featureRepoDir ? { featureRepoDir } : {}),
        }).catch((error: unknown) => {
          // The worker runtime installed above keeps the process alive: a worker that cannot
          // start (Temporal unreachable, another offline home) says why and exits now.
          process.exit(reportError(error));
        });
        const queue = opts.taskQueue ?? config.temporal.taskQueue;
        process.stdout.write(`granary: worker ready on task queue '${queue}' at ${config.temporal.address} (pid ${process.pid})\n`);
        await worker.run();
        process.stdout.write('granary: worker stopped\n');
      }),
    );
}
