import { maskSecrets } from '../config/mask-secrets.ts';
import { BreakingChangeError } from '../stores/registry/breaking-change-error.ts';
import { EXIT_CODES } from './exit-codes.ts';

/**
 * Prints an error as one line on stderr (`error: <message>`), with its stack (and causes) only
 * when GRANARY_DEBUG=1, and returns the exit code it means: 3 for a refused breaking change,
 * 1 for anything else. Credentials are masked (config/mask-secrets.ts), stacks included.
 *
 * @example
 *   process.exitCode = reportError(new Error('no such view')); // stderr: "error: no such view"
 */
export function reportError(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${maskSecrets(message.split('\n').join(' '))}\n`);
  if (process.env.GRANARY_DEBUG === '1') {
    let current: unknown = error;
    while (current instanceof Error) {
      process.stderr.write(`${maskSecrets(current.stack ?? current.message)}\n`);
      current = current.cause;
      if (current) process.stderr.write('caused by: ');
    }
  }
  return error instanceof BreakingChangeError ? EXIT_CODES.breaking : EXIT_CODES.error;
}
