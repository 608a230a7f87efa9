/**
 * Wraps a command's action so it may return its exit code (see exit-codes.ts); errors it throws
 * reach the program's handler in main.ts, which prints them.
 *
 * @example
 *   command.action(commandAction(async (options: Options, command: Command) => EXIT_CODES.ok));
 */
export function commandAction<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const code = await fn(...args);
    if (code !== undefined) process.exitCode = code;
  };
}
