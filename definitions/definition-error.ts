/**
 * An invalid definition. Its message names where the problem is: the file (when known), the
 * object and the field.
 *
 * @example
 *   new DefinitionError({ kind: 'feature view', name: 'user_spend', field: 'ttl' }, 'must be > 0')
 *     .message // => "feature view 'user_spend', field 'ttl': must be > 0"
 */
export interface DefinitionLocation {
  readonly file?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly field?: string;
}

export class DefinitionError extends Error {
  readonly location: DefinitionLocation;
  readonly problem: string;

  constructor(location: DefinitionLocation, problem: string) {
    super(formatLocation(location) + problem);
    this.name = 'DefinitionError';
    this.location = location;
    this.problem = problem;
  }

  /** The same error, located in a file. */
  inFile(file: string): DefinitionError {
    return new DefinitionError({ ...this.location, file }, this.problem);
  }
}

function formatLocation({ file, kind, name, field }: DefinitionLocation): string {
  const parts: string[] = [];
  if (file) parts.push(file);
  if (kind) parts.push(name === undefined ? kind : `${kind} '${name}'`);
  if (field) parts.push(`field '${field}'`);
  return parts.length ? `${parts.join(', ')}: ` : '';
}
