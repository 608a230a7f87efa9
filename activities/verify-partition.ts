import { log } from '@temporalio/activity';
import { takeRows } from '../arrow/take-rows.ts';
import { entityPartition } from '../pipelines/entity-partition.ts';
import { committedTables } from '../pipelines/committed-tables.ts';
import { NewestPerEntity } from '../pipelines/newest-per-entity.ts';
import { onlineTarget, registeredView } from '../pipelines/registered-view.ts';
import { tableToOnlineRows } from '../pipelines/row-conversion.ts';
import { arrowOnlineColumns } from '../pipelines/arrow-online-columns.ts';
import { describe, signature, verifyView, type VerifyReport } from '../pipelines/verify-view.ts';
import { addRuns, type SnapshotRuns } from '../pipelines/rebuild-runs.ts';
import type { FeatureView } from '../definitions/feature-view.ts';
import { encodeEntityKey } from '../stores/online/key-layout.ts';
import { ROW_COMPARISON, type OnlineRow } from '../stores/online/online-store.ts';
import { rowExpiresAt } from '../stores/online/row-expiry.ts';
import type { RunScratch } from '../stores/offline/object-key.ts';
import type { ViewRef } from '../workflows/contracts.ts';
import type { ActivityDeps } from './activity-deps.ts';
import { divergedGeneration, type GenerationCheck } from './finish-rebuild.ts';
import { failpointAfterHeartbeat } from './failpoints.ts';
import { lastHeartbeat, withHeartbeat } from './heartbeat.ts';

export interface VerifyPartitionInput extends ViewRef {
  readonly generation: number;
  readonly partition: number;
  readonly partitions: number;
  /** The build's runs of this partition per slice (they hold the newest rows of the commits up to upTo). */
  readonly runs: readonly number[];
  readonly upTo: number;
  /** Whose runs `runs` counts: the rebuild's (default) or a partitioned verify's. */
  readonly scratch?: RunScratch;
  /** The partition's snapshot runs, read before `runs` (their slices hold only commits after the snapshot's seq). */
  readonly snapshot?: SnapshotRuns;
}

/** One partition's side of invariant 4 (pipelines/verify-view.ts has the whole-view version and the definitions). */
export interface PartitionVerify {
  readonly partition: number;
  readonly watermark: number;
  readonly offlineEntities: number;
  readonly matching: number;
  readonly expired: number;
  readonly ahead: number;
  readonly missing: number;
  readonly stale: number;
  /** Entities of the partition found online (matching, ahead or stale). */
  readonly present: number;
  /** Committed rows after upTo refused by the future-time rule (the build counted the others). */
  readonly refused: number;
  readonly examples: readonly string[];
}

/** The comparison's counts (refused is recounted by every attempt: it reads every row again). */
type Counts = Omit<PartitionVerify, 'partition' | 'watermark' | 'offlineEntities' | 'refused' | 'examples'>;

/** Where a verify resumes: entities compared so far and what they gave. */
interface VerifyPosition {
  readonly compared: number;
  readonly counts: Counts;
  readonly examples: readonly string[];
}

const CHUNK_ENTITIES = 2000;
/** Chunks sent to Redis before the first one's answers are used (Redis compares one while this process encodes the next). */
const COMPARES_IN_FLIGHT = 2;
const MAX_EXAMPLES = 10;

/**
 * Verify of a rebuilt generation, one entity-hash partition at a time (the build's partitions):
 * what must be online is the newest row of each of the partition's entities over the build's runs
 * (commits up to upTo) and the commits applied since (up to the watermark); rows of later commits
 * count as ahead. Each expected entity is compared with Redis by key, chunk by chunk, without
 * decoding anything (compareRows: every field's encoded string inside Redis in layout 1; in
 * layout 2 the rows packed from the Arrow columns against an MGET, byte for byte); only the entities that
 * differ, or are absent before their expiry, are read back and judged on their decoded values, so
 * the counts and examples are those of reading every entity back. The counts so far are
 * heartbeated, so a retry (a worker killed mid-verify) resumes after the entities already
 * compared. Memory holds one partition.
 *
 * @example
 *   await verifyPartition({ project: 'fraud', view: 'user_spend', version: 1, generation: 2, partition: 3, partitions: 8, runs: [1, 1], upTo: 40 })
 *   // => { partition: 3, watermark: 42, offlineEntities: 250_000, matching: 250_000, present: 250_000, missing: 0, stale: 0, ... }
 */
export function verifyPartition(deps: ActivityDeps) {
  return async function verifyPartition(input: VerifyPartitionInput): Promise<PartitionVerify> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const target = onlineTarget(input, view, input.generation);
    const watermark = await registry.watermark(input.view, input.version, input.generation);
    const previous = lastHeartbeat<VerifyPosition>();
    let position: VerifyPosition = previous ?? {
      compared: 0,
      counts: { matching: 0, expired: 0, ahead: 0, missing: 0, stale: 0, present: 0 },
      examples: [],
    };
    const name = `verify of '${input.view}' v${input.version} generation ${input.generation}, partition ${input.partition}/${input.partitions}`;
    if (previous) log.info(`${name}: resuming after entity ${previous.compared} (from the last heartbeat)`);
    return withHeartbeat(
      async () => {
        const only = (key: string) => entityPartition(key, input.partitions) === input.partition;
        const expected = new NewestPerEntity(view);
        await addRuns(deps.offline, input, input.runs, expected, input.snapshot);
        const newer = new NewestPerEntity(view);
        let refused = 0;
        for await (const { commit, table, valid } of committedTables(registry, deps.offline, input, { after: input.upTo }, deps.maxFutureSkewMs)) {
          refused += (commit.seq <= watermark ? expected : newer).add(table, valid, only);
        }
        const newest = newestRows(view, newer);
        const counts = { ...position.counts };
        const examples = [...position.examples];
        const example = (text: string) => examples.length < MAX_EXAMPLES && examples.push(text);
        const now = Date.now();
        /** One entity's verdict from its expected row and what Redis holds (null: nothing). */
        const judge = (row: OnlineRow, online: OnlineRow | null, expecting: boolean, key = encodeEntityKey(row.entityKey)): void => {
          const ahead = newest.get(key);
          if (!online) {
            if (!expecting) return;
            if (rowExpiresAt(view.ttlSeconds, row.eventTime) <= now) counts.expired++;
            else {
              counts.missing++;
              example(`missing: entity ${key} (offline ${describe(row)}) is not online`);
            }
            return;
          }
          counts.present++;
          const actualSignature = signature(online);
          if (expecting && signature(row) === actualSignature) counts.matching++;
          else if (ahead && signature(ahead) === actualSignature) counts.ahead++;
          else {
            counts.stale++;
            example(`stale: entity ${key} online ${describe(online)}, offline ${expecting ? describe(row) : 'nothing up to the watermark'}`);
          }
        };
        const compare = async (rows: readonly OnlineRow[], expecting: boolean): Promise<void> => {
          const [actual] = await deps.online.readRows([{ target, entityKeys: rows.map((r) => r.entityKey) }]);
          rows.forEach((row, i) => judge(row, actual![i]!, expecting));
        };

        // The expected rows are compared inside Redis (compareRows: nothing read back), a chunk
        // sent ahead while the last one's answers are used; only rows that differ (or are absent
        // and not yet expired) are converted and read back to be judged as above.
        const chunks = expected.rowIndexChunks(CHUNK_ENTITIES, position.compared);
        const send = () => {
          const step = chunks.next();
          if (step.done) return undefined;
          const { table, rows, keys, done } = step.value;
          const columns = arrowOnlineColumns(view, table, rows, keys);
          const codes = deps.online.compareRows(target, columns);
          codes.catch(() => undefined); // awaited in order below
          return { table, rows, keys, done, eventTimes: columns.eventTimes, codes };
        };
        const inFlight = Array.from({ length: COMPARES_IN_FLIGHT }, send).filter((c) => c !== undefined);
        for (let chunk = inFlight.shift(); chunk; chunk = inFlight.shift()) {
          const following = send();
          if (following) inFlight.push(following);
          const codes = await chunk.codes;
          const reread: number[] = [];
          for (let i = 0; i < codes.length; i++) {
            if (codes[i] === ROW_COMPARISON.differs) reread.push(i);
            else if (codes[i] === ROW_COMPARISON.absent && rowExpiresAt(view.ttlSeconds, chunk.eventTimes[i]!) > now) reread.push(i);
          }
          const judged = new Map<number, { row: OnlineRow; online: OnlineRow | null }>();
          if (reread.length > 0) {
            const rows = tableToOnlineRows(view, takeRows(chunk.table, Int32Array.from(reread, (i) => chunk.rows[i]!)));
            const [actual] = await deps.online.readRows([{ target, entityKeys: rows.map((r) => r.entityKey) }]);
            reread.forEach((i, j) => judged.set(i, { row: rows[j]!, online: actual![j]! }));
          }
          // In entity order, as one read per chunk would judge them (the examples keep their order).
          for (let i = 0; i < codes.length; i++) {
            const again = judged.get(i);
            if (again) judge(again.row, again.online, true, chunk.keys[i]!);
            else if (codes[i] === ROW_COMPARISON.same) {
              counts.present++;
              counts.matching++;
            } else counts.expired++; // absent, and past its expiry
          }
          position = { compared: chunk.done, counts: { ...counts }, examples: [...examples] };
          if (input.partition > 0 && !previous) await failpointAfterHeartbeat('mid-verify');
        }
        // Entities only in commits after the watermark: online (if at all) only by being ahead.
        const onlyNewer = [...newest].filter(([key]) => !expected.has(key)).map(([, row]) => row);
        for (let start = 0; start < onlyNewer.length; start += CHUNK_ENTITIES) await compare(onlyNewer.slice(start, start + CHUNK_ENTITIES), false);
        return { partition: input.partition, watermark, offlineEntities: expected.entities, ...counts, refused, examples };
      },
      () => position,
    );
  };
}

/** The newest rows of `newer`, converted, by encoded key (commits past the watermark: usually few). */
function newestRows(view: FeatureView, newer: NewestPerEntity): Map<string, OnlineRow> {
  const rows = new Map<string, OnlineRow>();
  for (const { table, rows: at, keys } of newer.winners()) {
    tableToOnlineRows(view, takeRows(table, at)).forEach((row, i) => rows.set(keys[i]!, row));
  }
  return rows;
}

export interface VerifyReportInput extends ViewRef {
  readonly generation: number;
  readonly reports: readonly PartitionVerify[];
  /** Rows the scatter refused (future-time rule) in the commits up to the verify's upTo. */
  readonly refused: number;
}

/**
 * The report of a partitioned verify of a live generation (`granary verify`): the partitions'
 * counts summed, and Redis' count of the generation's row keys for `extra` (online but never
 * committed). Partitions may have seen different watermarks (materialization goes on); the report
 * names the lowest. When Redis holds more keys than the partitions found, the whole-view verify
 * (pipelines/verify-view.ts) tells an extra entity from one materialized after its partition
 * was checked, and gives the report.
 *
 * @example
 *   await reportVerify({ project: 'fraud', view: 'user_spend', version: 1, generation: 1, reports, refused: 0 })
 *   // => { generation: 1, watermark: 40, offlineEntities: 2_000_000, onlineEntities: 2_000_000, matching: 2_000_000, extra: 0, ok: true, ... }
 */
export function reportVerify(deps: ActivityDeps) {
  return async function reportVerify(input: VerifyReportInput): Promise<VerifyReport> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const target = onlineTarget(input, view, input.generation);
    const sum = summed(input.reports);
    const keys = await withHeartbeat(() => deps.online.countRowKeys(target));
    if (keys > sum('present')) {
      log.info(`verify of '${input.view}' v${input.version}: Redis holds ${keys - sum('present')} key(s) more than the partitions found; checking the whole view`);
      return withHeartbeat(() => verifyView({ registry, offline: deps.offline, online: deps.online }, input, { generation: input.generation, ...(deps.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: deps.maxFutureSkewMs }) }));
    }
    const missing = sum('missing');
    const stale = sum('stale');
    return {
      project: input.project,
      view: input.view,
      version: input.version,
      generation: input.generation,
      watermark: Math.min(...input.reports.map((r) => r.watermark)),
      latestSeq: await registry.latestCommitSeq(input.view, input.version),
      offlineEntities: sum('offlineEntities'),
      onlineEntities: keys,
      matching: sum('matching'),
      expired: sum('expired'),
      ahead: sum('ahead'),
      missing,
      stale,
      extra: 0,
      refused: input.refused + sum('refused'),
      examples: input.reports.flatMap((r) => r.examples).slice(0, MAX_EXAMPLES),
      ok: missing + stale === 0,
    };
  };
}

/**
 * After every partition is verified: sums their reports, and checks that Redis holds no entity
 * outside them (an `extra` one: online but never committed) by counting the generation's keys:
 * the count its writes keep (countedRowKeys: no keyspace pass) when it shows there is no room
 * for one, else by SCAN (countRowKeys). The rebuild's generation is written only by Granary's
 * build, catch-up and zombie attempts, all counted; `granary verify` (reportVerify) always
 * SCANs, since it also answers for keys written by anything else. When anything diverges, or
 * the count leaves room for an extra entity, the whole-view verify (pipelines/verify-view.ts)
 * gives the exact figures and examples. Throws like verifyGeneration: RedisDataLost when the
 * generation's marker is gone, RebuildDiverged otherwise.
 */
export function finishVerify(deps: ActivityDeps) {
  return async function finishVerify(input: ViewRef & { readonly generation: number; readonly reports: readonly PartitionVerify[] }): Promise<GenerationCheck> {
    const registry = deps.registry(input.project);
    const { view } = await registeredView(registry, input);
    const target = onlineTarget(input, view, input.generation);
    const sum = summed(input.reports);
    const watermark = Math.min(...input.reports.map((r) => r.watermark));
    const counted = await deps.online.countedRowKeys(target);
    const keys = counted !== undefined && counted <= sum('present') ? counted : await withHeartbeat(() => deps.online.countRowKeys(target));
    const ok = sum('missing') + sum('stale') === 0 && keys <= sum('present') && input.reports.every((r) => r.watermark === watermark);
    if (ok) return { watermark, matching: sum('matching'), expired: sum('expired'), ahead: sum('ahead') };

    const report = await withHeartbeat(() => verifyView({ registry, offline: deps.offline, online: deps.online }, input, { generation: input.generation, ...(deps.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: deps.maxFutureSkewMs }) }));
    if (report.ok) return { watermark: report.watermark, matching: report.matching, expired: report.expired, ahead: report.ahead };
    throw await divergedGeneration(deps, input, report);
  };
}

/** A field of the partitions' reports, summed over them. */
function summed(reports: readonly PartitionVerify[]) {
  return (field: keyof Counts | 'offlineEntities' | 'refused'): number => reports.reduce((n, r) => n + r[field], 0);
}
