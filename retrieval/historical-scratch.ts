import { checkStoreKey } from '../stores/offline/object-key.ts';
import type { OfflineStore } from '../stores/offline/offline-store.ts';

/** Folder of distributed training sets' scratch in a project ('_' and '-' keep it apart from any view name). */
export const HISTORICAL_SCRATCH_FOLDER = '_historical-runs';
/** Folder of distributed training sets' results, until the caller copies them to their destination. */
export const HISTORICAL_RESULTS_FOLDER = '_historical-results';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * Where one distributed training set (workflow `historical/<project>/<id>`) keeps its pieces in
 * the offline store, all uncommitted scratch (offline GC collects what a crash leaves):
 *
 *   <project>/_historical-runs/<id>/input/entities.<parquet|csv>   the caller's entity file
 *   <project>/_historical-runs/<id>/split.json                       the plan (HistoricalSplit)
 *   <project>/_historical-runs/<id>/split/p<i>/entities-<n>.parquet  partition i's entity rows
 *   <project>/_historical-runs/<id>/split/p<i>/v<j>-<n>.parquet      partition i's rows of view j
 *   <project>/_historical-runs/<id>/split/shared/v<j>-0.parquet      all rows of view j (other join keys)
 *   <project>/_historical-runs/<id>/joined/p<i>.parquet              partition i's joined rows
 *   <project>/_historical-results/<id>.parquet                       the merged training set
 *
 * The result lives outside the scratch so that dropping the scratch (the workflow's finally)
 * leaves it for the caller, who copies it to `--out` and deletes it.
 *
 * @example
 *   historicalScratch('fraud', 'a1b2c3').partitionPrefix(3) // => 'fraud/_historical-runs/a1b2c3/split/p3/'
 *   historicalScratch('fraud', 'a1b2c3').result            // => 'fraud/_historical-results/a1b2c3.parquet'
 */
export function historicalScratch(project: string, id: string) {
  if (!RUN_ID.test(id)) throw new RangeError(`historical run id ${JSON.stringify(id)}: letters, digits, '_' and '-' only (at most 128)`);
  const root = checkStoreKey(`${project}/${HISTORICAL_SCRATCH_FOLDER}/${id}`, 'historical scratch');
  return {
    /** Everything of the run but its result, ending in '/'. */
    prefix: `${root}/`,
    entities: (extension: 'parquet' | 'csv') => `${root}/input/entities.${extension}`,
    plan: `${root}/split.json`,
    splitPrefix: `${root}/split/`,
    partitionPrefix: (partition: number) => `${root}/split/p${partition}/`,
    sharedPrefix: `${root}/split/shared/`,
    joined: (partition: number) => `${root}/joined/p${partition}.parquet`,
    result: `${project}/${HISTORICAL_RESULTS_FOLDER}/${id}.parquet`,
  };
}

/** Deletes a run's scratch (not its result): what the workflow's finally does. Returns the objects deleted. */
export async function dropHistoricalScratch(offline: OfflineStore, project: string, id: string): Promise<number> {
  const { prefix } = historicalScratch(project, id);
  const keys: string[] = [];
  for await (const object of offline.list(prefix)) keys.push(object.key);
  for (const key of keys) await offline.delete(key);
  return keys.length;
}
