import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OfflineStore } from '../stores/offline/offline-store.ts';
import type { CommittedObject } from './committed-objects.ts';

/** Objects fetched at once from a remote store. */
const FETCH_CONCURRENCY = 4;

/**
 * How committed objects reach DuckDB, which reads only local files here (its httpfs extension
 * cannot be downloaded): each object gets a local file in `dir` named by its place in read order
 * (`o000000.parquet`, `o000001.parquet`, ...), so that sorting by file name is sorting by commit
 * order, the last tie-break of the point-in-time rule. A store whose objects are local files
 * (capabilities.localFiles) gets symlinks, no copy; any other store (S3) is read through its own
 * API (getBytes), a few objects at a time.
 *
 * @example
 *   await stageObjects(offline, objects, '/tmp/granary-historical-x/v0', (n) => bar.update(n))
 *   // => ['/tmp/granary-historical-x/v0/o000000.parquet', '/tmp/granary-historical-x/v0/o000001.parquet']
 */
export async function stageObjects(
  offline: OfflineStore,
  objects: readonly CommittedObject[],
  dir: string,
  onStaged?: (count: number) => void,
): Promise<string[]> {
  const paths = objects.map((_, i) => join(dir, `o${String(i).padStart(6, '0')}.parquet`));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects.length) {
      const i = next++;
      const object = objects[i]!;
      if (offline.capabilities.localFiles) await symlink(offline.localPath(object.key), paths[i]!);
      else await writeFile(paths[i]!, await offline.getBytes(object.key));
      onStaged?.(1);
    }
  };
  const workers = offline.capabilities.localFiles ? 1 : FETCH_CONCURRENCY;
  await Promise.all(Array.from({ length: Math.min(workers, objects.length) }, worker));
  return paths;
}
