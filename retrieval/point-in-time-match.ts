/**
 * The point-in-time rule, on plain arrays: for each entity row (a label), the feature row of the
 * same entity with the greatest event time <= the label's time and >= the label's time - TTL
 * (both bounds inclusive); ties on event time go to the greatest created time; rows equal in
 * both go to the one read first (the earlier commit, as in the online store, where an equal row
 * never replaces the one already there). No such row gives -1.
 *
 * Entities are dense ids (0..entityCount-1; -1 for a label whose entity has no feature rows).
 * Feature rows are grouped by entity with a counting sort, each entity's rows sorted by time,
 * then each label is one binary search in its entity's rows: O(F + L log k) for F feature rows,
 * L labels and k rows per entity.
 *
 * @example
 *   pointInTimeMatch(
 *     { entity: Int32Array.of(0, 0, 0), eventTime: Float64Array.of(10, 20, 20), createdTime: Float64Array.of(0, 5, 3) },
 *     1,
 *     { entity: Int32Array.of(0, 0, 0), time: Float64Array.of(25, 15, 5) },
 *     100,
 *   ) // => Int32Array [1, 0, -1]
 */
export interface FeatureRowTimes {
  readonly entity: Int32Array;
  readonly eventTime: Float64Array;
  /** 0 where the source has no created timestamp or the cell is null. */
  readonly createdTime: Float64Array;
}

export interface EntityRowTimes {
  readonly entity: Int32Array;
  readonly time: Float64Array;
}

export function pointInTimeMatch(features: FeatureRowTimes, entityCount: number, labels: EntityRowTimes, ttlMs: number): Int32Array {
  const { entity, eventTime, createdTime } = features;
  const n = entity.length;
  const starts = new Int32Array(entityCount + 1);
  for (let i = 0; i < n; i++) starts[entity[i]! + 1]!++;
  for (let e = 0; e < entityCount; e++) starts[e + 1]! += starts[e]!;
  const order = new Int32Array(n);
  const fill = starts.slice(0, entityCount);
  for (let i = 0; i < n; i++) order[fill[entity[i]!]!++] = i;

  // Within an entity: event time, then created time ascending, then read order descending, so
  // the last row at or before a time is the one the rule picks.
  const compare = (a: number, b: number): number =>
    eventTime[a]! - eventTime[b]! || createdTime[a]! - createdTime[b]! || b - a;
  for (let e = 0; e < entityCount; e++) {
    const s = starts[e]!;
    const end = starts[e + 1]!;
    if (end - s < 2) continue;
    if (end - s > 32) {
      order.subarray(s, end).sort(compare);
      continue;
    }
    // Small runs (the usual case): insertion sort, no comparator calls; already-sorted runs cost one pass.
    for (let j = s + 1; j < end; j++) {
      const row = order[j]!;
      const e = eventTime[row]!;
      const c = createdTime[row]!;
      let k = j - 1;
      while (k >= s) {
        const other = order[k]!;
        const oe = eventTime[other]!;
        if (oe < e || (oe === e && (createdTime[other]! < c || (createdTime[other]! === c && other > row)))) break;
        order[k + 1] = other;
        k--;
      }
      order[k + 1] = row;
    }
  }
  const times = new Float64Array(n);
  for (let j = 0; j < n; j++) times[j] = eventTime[order[j]!]!;

  const out = new Int32Array(labels.entity.length).fill(-1);
  for (let i = 0; i < out.length; i++) {
    const e = labels.entity[i]!;
    if (e < 0) continue;
    const t = labels.time[i]!;
    // The last position in [s, end) with event time <= t.
    let lo = starts[e]!;
    let hi = starts[e + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    const at = lo - 1;
    if (at >= starts[e]! && times[at]! >= t - ttlMs) out[i] = order[at]!;
  }
  return out;
}
