import type { Command } from 'commander';

/**
 * The options every command takes. They are declared on the program and on each command, so
 * they may come before or after the command name (`granary --repo r plan`, `granary plan --repo
 * r`) while a command keeps its own options (`describe --version`) apart from the program's;
 * the defaults are applied here, not by commander, so a value given before the command is kept.
 *
 * @example
 *   globalOptions(command) // => { repo: '.', json: false }
 */
export interface GlobalOptions {
  /** The feature repo folder (definitions and granary.yaml). */
  readonly repo: string;
  readonly json: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--repo <dir>', 'the feature repo folder, with its definitions and granary.yaml (default: ".")')
    .option('--json', 'print JSON instead of text');
}

export function globalOptions(command: Command): GlobalOptions {
  return { repo: nearest<string>(command, 'repo') ?? '.', json: nearest<boolean>(command, 'json') === true };
}

/** The value given on the command itself, else on the closest parent that has one. */
function nearest<T>(command: Command, key: string): T | undefined {
  for (let current: Command | null = command; current; current = current.parent) {
    const value = current.getOptionValue(key) as T | undefined;
    if (value !== undefined) return value;
  }
  return undefined;
}
