import { entityPartition } from '../../pipelines/entity-partition.ts';
/**
 * How a generation's rows are stored in Redis: its layout version and, for layout 2, its bucket
 * count. Recorded in the generation marker when the marker is first written (markGeneration)
 * and fixed for the generation's life: a generation keeps its layout until a rebuild cuts over to
 * a new one, which gets the current layout.
 *
 *   1  hashRows    one hash per (generation, entity): `__et`, `__ct` and a field per non-null
 *                  feature (the first layout). A marker without a `layout` field is layout 1.
 *   2  packedRows  one string per (generation, entity), packed (packed-row-codec.ts), its key
 *                  tagged with the entity's bucket (key-layout.ts), `buckets` in the marker.
 *
 * @example
 *   layoutOfMarker('2', '256', '[["spend","float64"]]') // => { version: 2, buckets: 256, features: [{ name: 'spend', type: 'float64' }] }
 *   layoutOfMarker(null, null) // => { version: 1, buckets: 0 }
 */
import type { ValueType } from '../../definitions/value-type.ts';

export type LayoutVersion = 1 | 2;

export interface GenerationLayout {
  readonly version: LayoutVersion;
  /** Buckets of a layout-2 generation (bucket = entity hash mod buckets); 0 for layout 1. */
  readonly buckets: number;
  /**
   * Layout 2: the packing order of the features (the marker's `features`, append-only), or
   * undefined for a generation without a marker (rows are then packed in the target's order).
   */
  readonly features?: readonly PackedFeatureRef[];
}

export interface PackedFeatureRef {
  readonly name: string;
  readonly type: ValueType;
}

/** The marker's `features` field: [[name, type], ...]. */
export function packingToMarker(features: readonly PackedFeatureRef[]): string {
  return JSON.stringify(features.map((f) => [f.name, f.type]));
}

/** The layout every new generation gets. */
export const CURRENT_LAYOUT_VERSION: LayoutVersion = 2;

/**
 * Buckets of a new layout-2 generation. A bucket is a hash tag, so one slot of a Redis Cluster
 * and the unit of a multi-key script call: enough buckets to spread a view over every master
 * (256 slots over 3 masters: within a few % of even), few enough that a write chunk of a few
 * thousand rows still gives tens of rows per call. A power of two, as the rebuild's partition
 * count usually is: a partition's entities then fall in buckets/partitions buckets (same hash).
 */
export const DEFAULT_BUCKETS = 256;

/** The layout a marker's `layout` and `buckets` fields describe (absent fields: layout 1). */
export function layoutOfMarker(layout: string | null | undefined, buckets: string | null | undefined, features?: string | null): GenerationLayout {
  if (layout === null || layout === undefined || layout === '1') return HASH_ROWS;
  if (layout === '2') {
    const n = Number(buckets);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`generation marker of layout 2 has no valid bucket count ('${String(buckets)}')`);
    let packing: PackedFeatureRef[];
    try {
      packing = (JSON.parse(features ?? '') as [string, ValueType][]).map(([name, type]) => Object.freeze({ name, type }));
    } catch {
      throw new Error(`generation marker of layout 2 has no valid feature list ('${String(features)}')`);
    }
    return Object.freeze({ version: 2, buckets: n, features: Object.freeze(packing) });
  }
  throw new Error(`generation marker has layout '${layout}', which this version of Granary cannot read (it knows 1 and 2)`);
}

export const HASH_ROWS: GenerationLayout = Object.freeze({ version: 1, buckets: 0 });

export function packedRows(buckets = DEFAULT_BUCKETS): GenerationLayout {
  if (!Number.isSafeInteger(buckets) || buckets < 1) throw new RangeError(`bucket count must be a whole number >= 1, got ${buckets}`);
  return Object.freeze({ version: 2, buckets });
}

/**
 * The bucket of an encoded entity key (key-layout.ts encodeEntityKey): FNV-1a over its UTF-16
 * code units mod `buckets`, the hash pipelines/entity-partition.ts uses for the rebuild's
 * partitions, so a partition's rows fall in few buckets when both counts are powers of two.
 *
 * @example
 *   entityBucket('u1', 256) // => the same number in 0..255 in every process
 */
export function entityBucket(encodedEntityKey: string, buckets: number): number {
  return entityPartition(encodedEntityKey, buckets);
}
