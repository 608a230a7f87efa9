import type { Command } from 'commander';
import { positiveInt } from './option-parsers.ts';

/**
 * The options every command takes. They are declared on the program and on each command, so
 * they may come before or after the command name (`granary --repo r plan`, `granary plan --repo
 * r`) while a command keeps its own options (`describe --version`) apart from the program's;
 * the defaults are applied here, not by commander, so a value given before the command is kept.
 *
 * @example
 *   globalOptions(command) // => { repo: '.', json: false, workerTimeout: undefined }
 */
export interface GlobalOptions {
  /** The feature repo folder (definitions and granary.yaml). */
  readonly repo: string;
  readonly json: boolean;
  /** Seconds a command waiting on a workflow waits for a worker to poll the task queue (overrides GRANARY_WORKER_TIMEOUT). */
  readonly workerTimeout: number | undefined;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--repo <dir>', 'the feature repo folder, with its definitions and granary.yaml (default: ".")')
    .option('--json', 'print JSON instead of text')
    .option(
      '--worker-timeout <seconds>',
      'commands that wait on a workflow stop after this long without a worker polling the task queue (default: GRANARY_WORKER_TIMEOUT or 180)',
      positiveInt,
    );
}

export function globalOptions(command: Command): GlobalOptions {
  return {
    repo: nearest<string>(command, 'repo') ?? '.',
    json: nearest<boolean>(command, 'json') === true,
    workerTimeout: nearest<number>(command, 'workerTimeout'),
  };
}

/** The value given on the command itself, else on the closest parent that has one. */
function nearest<T>(command: Command, key: string): T | undefined {
  for (let current: Command | null = command; current; current = current.parent) {
    const value = current.getOptionValue(key) as T | undefined;
    if (value !== undefined) return value;
  }
  return undefined;
}
