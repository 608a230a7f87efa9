import { DefinitionError } from './definition-error.ts';
import { checkIdentifier, checkKnownKeys, checkName, checkObject, checkOptionalString, checkTags, show } from './field-checks.ts';

/**
 * A source: where a feature view's rows come from, a Parquet location on S3 (`s3://bucket/prefix`)
 * or a local folder or file, with the column that holds each row's event timestamp and,
 * optionally, the one that holds its created timestamp (the tie-break between two rows with the
 * same event time).
 *
 * @example
 *   const txns = parquetSource({
 *     name: 'transactions',
 *     path: 's3://raw/transactions/',
 *     eventTimestampColumn: 'event_timestamp',
 *     createdTimestampColumn: 'created_timestamp',
 *   });
 *   txns.location // => { kind: 's3', bucket: 'raw', prefix: 'transactions/' }
 */
export type SourceLocation =
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string }
  | { readonly kind: 'local'; readonly path: string };

export interface Source {
  readonly kind: 'source';
  readonly name: string;
  readonly path: string;
  readonly location: SourceLocation;
  readonly eventTimestampColumn: string;
  readonly createdTimestampColumn: string | null;
  readonly description: string;
  readonly owner: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface SourceOptions {
  name: string;
  path: string;
  eventTimestampColumn?: string;
  createdTimestampColumn?: string;
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
}

const FIELDS = ['name', 'path', 'eventTimestampColumn', 'createdTimestampColumn', 'description', 'owner', 'tags'];

export function parquetSource(options: SourceOptions): Source {
  const raw = checkObject({ kind: 'source' }, options);
  const name = checkName({ kind: 'source' }, raw.name);
  const where = { kind: 'source', name };
  checkKnownKeys(where, raw, FIELDS);
  if (typeof raw.path !== 'string' || raw.path.trim() === '') {
    throw new DefinitionError({ ...where, field: 'path' }, `must be 's3://bucket/prefix' or a local path, got ${show(raw.path)}`);
  }
  const path = raw.path.trim();
  const eventTimestampColumn = checkIdentifier(
    { ...where, field: 'eventTimestampColumn' },
    raw.eventTimestampColumn ?? 'event_timestamp',
  );
  const createdTimestampColumn =
    raw.createdTimestampColumn === undefined || raw.createdTimestampColumn === null
      ? null
      : checkIdentifier({ ...where, field: 'createdTimestampColumn' }, raw.createdTimestampColumn);
  if (createdTimestampColumn === eventTimestampColumn) {
    throw new DefinitionError(
      { ...where, field: 'createdTimestampColumn' },
      `must differ from eventTimestampColumn ('${eventTimestampColumn}')`,
    );
  }
  return Object.freeze({
    kind: 'source',
    name,
    path,
    location: parseLocation({ ...where, field: 'path' }, path),
    eventTimestampColumn,
    createdTimestampColumn,
    description: checkOptionalString({ ...where, field: 'description' }, raw.description),
    owner: checkOptionalString({ ...where, field: 'owner' }, raw.owner),
    tags: checkTags({ ...where, field: 'tags' }, raw.tags),
  });
}

function parseLocation(where: { kind: string; name: string; field: string }, path: string): SourceLocation {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !path.startsWith('s3://')) {
    throw new DefinitionError(where, `only s3:// URLs and local paths are supported, got '${path}'`);
  }
  if (!path.startsWith('s3://')) return Object.freeze({ kind: 'local', path });
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(path);
  if (!match) throw new DefinitionError(where, `'${path}' is not a valid s3://bucket/prefix URL`);
  return Object.freeze({ kind: 's3', bucket: match[1]!, prefix: match[2] ?? '' });
}
