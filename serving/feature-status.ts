/**
 * The status of one served value, as Feast names them:
 * - `PRESENT`: the entity's row exists, is within the view's TTL, and the value is not null;
 * - `NULL_VALUE`: the row exists and is fresh, the value is null;
 * - `NOT_FOUND`: the online store holds no row for that entity; its value is served as null (or
 *   as the feature service's default);
 * - `OUTSIDE_MAX_AGE`: the row is older than the view's TTL (event time < now - TTL); its value
 *   is served as null (or as the feature service's default), never silently.
 *
 * @example
 *   FEATURE_STATUSES.includes('PRESENT') // => true
 */
export const FEATURE_STATUSES = ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'] as const;

export type FeatureStatus = (typeof FEATURE_STATUSES)[number];
