/**
 * A failure with a message meant for a person: the CLI prints it without a stack trace.
 *
 * @example
 *   throw new StackError('redis-server is not on PATH'); // npm run stack prints: stack: redis-server is not on PATH
 */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

/** The message of anything thrown. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
