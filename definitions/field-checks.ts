import { DefinitionError, type DefinitionLocation } from './definition-error.ts';

/** Field checks shared by the definition builders. Each throws a located DefinitionError. */

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkName(where: DefinitionLocation, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new DefinitionError({ ...where, field: 'name' }, 'is required and must be a non-empty string');
  }
  if (!NAME_PATTERN.test(value) || value.length > 128) {
    throw new DefinitionError(
      { ...where, name: value, field: 'name' },
      'must start with a letter or underscore and hold only letters, digits and underscores (at most 128)',
    );
  }
  return value;
}

export function checkIdentifier(where: DefinitionLocation, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new DefinitionError(where, `must be an identifier (letters, digits, underscores), got ${show(value)}`);
  }
  return value;
}

export function checkOptionalString(where: DefinitionLocation, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new DefinitionError(where, `must be a string, got ${show(value)}`);
  return value;
}

export function checkTags(where: DefinitionLocation, value: unknown): Readonly<Record<string, string>> {
  if (value === undefined || value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new DefinitionError(where, `must be an object of string values, got ${show(value)}`);
  }
  const tags: Record<string, string> = {};
  for (const key of Object.keys(value).sort()) {
    const tag = (value as Record<string, unknown>)[key];
    if (typeof tag !== 'string') {
      throw new DefinitionError(where, `tag '${key}' must be a string, got ${show(tag)}`);
    }
    tags[key] = tag;
  }
  return Object.freeze(tags);
}

export function checkKnownKeys(where: DefinitionLocation, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new DefinitionError({ ...where, field: key }, `is not a known field (known: ${known.join(', ')})`);
    }
  }
}

export function checkObject(where: DefinitionLocation, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DefinitionError(where, `expects an object of options, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
