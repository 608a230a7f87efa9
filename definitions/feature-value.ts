/**
 * The canonical JS form of values: what a feature or join key of a ValueType holds once it is
 * in Granary (after ingest coerced it, when the online store decodes it, when it is served).
 * checkValue (check-value.ts) says whether a value has its type's form.
 *
 * @example
 *   const row: Record<string, FeatureValue | null> = { spend_7d: 12.5, purchases: 3n, tags: ['a', null] };
 */

/**
 * bool: boolean; int32, float32, float64: number; int64: bigint; string: string;
 * bytes: Uint8Array; timestamp: number (ms since epoch); list<T>: array of T (elements may be null).
 */
export type FeatureValue = boolean | number | bigint | string | Uint8Array | readonly (FeatureValue | null)[];

/** The join-key values of one entity, in the order of the view's entities. */
export type EntityKey = readonly (string | number | bigint)[];

/** One join-key value as a caller gives it: a string, a number, or a bigint (int64). */
export type JoinKeyValue = string | number | bigint;
