import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { registerAccessCommand } from './commands/access.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerCompactCommand } from './commands/compact.ts';
import { registerDescribeCommand } from './commands/describe.ts';
import { registerGcCommand } from './commands/gc.ts';
import { registerGetOnlineFeaturesCommand } from './commands/get-online-features.ts';
import { registerHistoricalCommand } from './commands/historical.ts';
import { registerIngestCommand } from './commands/ingest.ts';
import { registerListCommand } from './commands/list.ts';
import { registerMaterializeCommand } from './commands/materialize.ts';
import { registerMigrateCommand } from './commands/migrate.ts';
import { registerMonitorCommand } from './commands/monitor.ts';
import { registerPlanCommand } from './commands/plan.ts';
import { registerRebuildOnlineCommand } from './commands/rebuild-online.ts';
import { registerRepairCommand } from './commands/repair.ts';
import { registerScheduleCommand } from './commands/schedule.ts';
import { registerServeCommand } from './commands/serve.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerVerifyCommand } from './commands/verify.ts';
import { registerWorkerCommand } from './commands/worker.ts';
import { addGlobalOptions } from './global-options.ts';
import { reportError } from './report-error.ts';

/**
 * The `granary` command. Each command lives in `cli/commands/<name>.ts` and exports a
 * `register<Name>Command(program)`; adding one is that file plus one line below. Commands read
 * the global options with `globalOptions(command)`, return an exit code (exit-codes.ts) through
 * `commandAction`, and throw on errors, which print as one line (`error: ...`).
 *
 * @example
 *   await main(['node', 'granary', 'plan', '--repo', 'definitions/examples/fraud']);
 */
export function buildProgram(): Command {
  const program = addGlobalOptions(new Command('granary'))
    .description('Granary: a feature store whose pipelines are Temporal workflows')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run granary --help for usage)')
    .enablePositionalOptions();

  registerPlanCommand(program);
  registerApplyCommand(program);
  registerListCommand(program);
  registerDescribeCommand(program);
  registerIngestCommand(program);
  registerMaterializeCommand(program);
  registerVerifyCommand(program);
  registerScheduleCommand(program);
  registerRebuildOnlineCommand(program);
  registerCompactCommand(program);
  registerRepairCommand(program);
  registerMigrateCommand(program);
  registerStatusCommand(program);
  registerMonitorCommand(program);
  registerHistoricalCommand(program);
  registerGetOnlineFeaturesCommand(program);
  registerServeCommand(program);
  registerGcCommand(program);
  registerWorkerCommand(program);
  registerAccessCommand(program);

  const withGlobalOptions = (commands: readonly Command[]): void => {
    for (const command of commands) {
      addGlobalOptions(command);
      withGlobalOptions(command.commands);
    }
  };
  withGlobalOptions(program.commands);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
