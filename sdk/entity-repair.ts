import { registeredView, onlineTarget } from '../pipelines/registered-view.ts';
import { futureLimit, isFutureRow } from '../pipelines/future-event-time.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import { convertRowsWhere, replaces } from '../pipelines/row-conversion.ts';
import { encodeEntityKey } from '../stores/online/key-layout.ts';
import type { OnlineRow, OnlineStore } from '../stores/online/online-store.ts';
import type { EntityKey } from '../definitions/feature-value.ts';
import type { Registry } from '../stores/registry/registry.ts';
import type { ViewRef } from '../workflows/contracts.ts';

/**
 * `granary repair <view> --entity KEY...`: re-derives each entity from the offline store under the
 * committed-row rule (pipelines/future-event-time.ts: rows whose event or created time is
 * later than their commit's time + the skew are refused) and writes the result to the online
 * store unconditionally, in the active generation and in one a rebuild is building: the latest
 * valid committed row replaces whatever is stored (a row poisoned by a far-future time, say), and
 * an entity with no valid row is deleted. Each replace is one step inside Redis and only applies
 * if the stored row is still the one read (replace-row.lua.ts), so a materialization running at
 * the same time is never undone: on a conflict the entity is read and replaced again.
 *
 * @example
 *   await repairEntities(stores, { project: 'fraud', view: 'user_spend_features', version: 1 }, [['u1']])
 *   // => { entities: [{ entity: 'u1', action: 'written', eventTime: 1714521600000, ... }], refused: 1, ... }
 */
export interface RepairStores {
  readonly registry: Registry;
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
}

export interface RepairedEntity {
  /** The entity key, encoded as in Redis keys (key-layout.ts). */
  readonly entity: string;
  /** What the online store now holds: the latest valid row ('written'), nothing ('deleted': no valid row), or a row already past its expiry. */
  readonly action: 'written' | 'deleted' | 'expired';
  /** The event time of the row written, ms; null when deleted. */
  readonly eventTime: number | null;
  /** The event time the online store held before, ms; null when it held nothing. */
  readonly previousEventTime: number | null;
}

export interface RepairReport extends ViewRef {
  readonly generations: readonly number[];
  readonly entities: readonly RepairedEntity[];
  /** Committed rows of these entities refused by the rule. */
  readonly refused: number;
}

const MAX_ATTEMPTS = 10;

export async function repairEntities(
  stores: RepairStores,
  ref: ViewRef,
  entityKeys: readonly EntityKey[],
  options: { readonly maxFutureSkewMs?: number } = {},
): Promise<RepairReport> {
  const { registry, offline, online } = stores;
  const { view } = await registeredView(registry, ref);
  if (entityKeys.length === 0) throw new Error(`repair of feature view '${ref.view}': name at least one entity`);
  const joinKeys = view.entities.map((e) => ({ name: e.joinKey, type: e.valueType }));
  const wanted = new Map<string, EntityKey>();
  for (const key of entityKeys) {
    try {
      wanted.set(encodeEntityKey(key, joinKeys), key);
    } catch (error) {
      throw new Error(`repair of feature view '${ref.view}': ${(error as Error).message}`);
    }
  }

  const latest = new Map<string, OnlineRow>();
  let refused = 0;
  for (const commit of await registry.commits(ref.view, ref.version)) {
    const limit = futureLimit(commit.committedAt, options.maxFutureSkewMs);
    const pick = (key: string, e: number, c: number): boolean => {
      if (!wanted.has(key)) return false;
      if (isFutureRow(e, c, limit)) {
        refused += 1;
        return false;
      }
      return replaces(e, c, latest.get(key));
    };
    for (const object of commit.objects) {
      for await (const { table } of offline.readTable(object.key)) {
        for (const { key, row } of convertRowsWhere(view, table, pick)) {
          if (replaces(row.eventTime, row.createdTime, latest.get(key))) latest.set(key, row);
        }
      }
    }
  }

  const generations = (await registry.generations(ref.view, ref.version)).filter((g) => g.state === 'active' || g.state === 'building').map((g) => g.generation);
  if (generations.length === 0) generations.push((await registry.activeGeneration(ref.view, ref.version)).generation);
  const entities: RepairedEntity[] = [];
  for (const generation of generations) {
    const target = onlineTarget(ref, view, generation);
    for (const [encoded, entityKey] of wanted) {
      const desired = latest.get(encoded) ?? null;
      for (let attempt = 1; ; attempt++) {
        const [[stored]] = (await online.readRows([{ target, entityKeys: [entityKey] }])) as [[OnlineRow | null]];
        const expected = stored ? { eventTime: stored.eventTime, createdTime: stored.createdTime } : null;
        const result = await online.replaceRow(target, entityKey, expected, desired);
        if (result !== 'conflict') {
          if (generation === generations[0]) {
            entities.push({ entity: encoded, action: result, eventTime: desired?.eventTime ?? null, previousEventTime: stored?.eventTime ?? null });
          }
          break;
        }
        if (attempt >= MAX_ATTEMPTS) {
          throw new Error(`repair of feature view '${ref.view}', entity ${encoded}: the online row kept changing under ${MAX_ATTEMPTS} attempts; run it again`);
        }
      }
    }
  }
  return { ...ref, generations, entities, refused };
}
