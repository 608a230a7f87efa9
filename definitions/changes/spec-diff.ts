import { canonicalJson } from './content-hash.ts';

/** One field that differs between two specs, by dotted path. */
export interface SpecDifference {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

/**
 * The differences between two specs, as leaf changes at dotted paths, in the order of the new
 * spec (removed items and keys first). Objects are compared key by key; lists whose items all have a unique `name` (features, entities) are compared item by
 * item under `path.<name>`, with one extra change at `path` itself (the lists of names) when the
 * order of the items present in both changed. Other lists and values change as a whole. An item
 * or key that is absent on one side is `undefined` there.
 *
 * @example
 *   diffSpecs({ features: [{ name: 'a', type: 'int64' }] }, { features: [{ name: 'a', type: 'float32' }] })
 *   // => [{ path: 'features.a.type', before: 'int64', after: 'float32' }]
 */
export function diffSpecs(before: unknown, after: unknown, path = ''): SpecDifference[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  if (isRecord(before) && isRecord(after)) {
    // In the new spec's key order (specOf's, meaningful), then keys only the old one has.
    const keys = [...Object.keys(after), ...Object.keys(before).filter((k) => !(k in after))];
    return keys.flatMap((key) => diffSpecs(before[key], after[key], join(path, key)));
  }
  const beforeNames = Array.isArray(before) ? namesOf(before) : undefined;
  const afterNames = Array.isArray(after) ? namesOf(after) : undefined;
  if (beforeNames && afterNames) return diffNamedLists(before as Named[], after as Named[], beforeNames, afterNames, path);
  return [{ path, before, after }];
}

interface Named {
  readonly name: string;
}

function diffNamedLists(before: Named[], after: Named[], beforeNames: string[], afterNames: string[], path: string): SpecDifference[] {
  const out: SpecDifference[] = [];
  const afterByName = new Map(after.map((item) => [item.name, item]));
  const beforeByName = new Map(before.map((item) => [item.name, item]));
  for (const item of before) {
    if (!afterByName.has(item.name)) out.push({ path: join(path, item.name), before: item, after: undefined });
  }
  for (const item of after) {
    const old = beforeByName.get(item.name);
    if (old === undefined) out.push({ path: join(path, item.name), before: undefined, after: item });
    else out.push(...diffSpecs(old, item, join(path, item.name)));
  }
  const keptBefore = beforeNames.filter((n) => afterByName.has(n));
  const keptAfter = afterNames.filter((n) => beforeByName.has(n));
  if (keptBefore.join('\u0000') !== keptAfter.join('\u0000')) out.push({ path, before: beforeNames, after: afterNames });
  return out;
}

/** The items' names when every item is an object with a unique string name. */
function namesOf(list: unknown[]): string[] | undefined {
  const names = list.map((item) => (isRecord(item) && typeof item.name === 'string' ? item.name : undefined));
  if (names.some((n) => n === undefined)) return undefined;
  return new Set(names).size === names.length ? (names as string[]) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
