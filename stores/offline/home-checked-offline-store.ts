import type { Table } from 'apache-arrow';
import type { ObjectInfo, OfflineCapabilities, OfflineStore, ReadOptions, RowGroupBatch, StoredObject } from './offline-store.ts';

/**
 * An offline store that checks a project's home (stores/offline-home.ts) before the first read,
 * write or listing of that project's objects, so no process touches a project's data in a store
 * the registry does not name as its home. The project is the key's first segment (object-key.ts:
 * every key starts with `<project>/`); each project is checked once per process, and again after
 * a failed check (a registry that was down, a configuration fixed). This is how a worker serving
 * several projects checks each one when it first touches it.
 *
 * @example
 *   const offline = new HomeCheckedOfflineStore(createOfflineStore(config.offline), (project) =>
 *     checkOfflineHome(stores.registry(project), config.offline, { record: true }).then(() => undefined), config.project);
 *   await offline.writeTable('fraud/_staging/user_spend/v1/b1.parquet', table); // checks 'fraud' first
 */
export class HomeCheckedOfflineStore implements OfflineStore {
  private readonly checked = new Map<string, Promise<void>>();

  constructor(
    private readonly inner: OfflineStore,
    private readonly checkProject: (project: string) => Promise<void>,
    /** The project a listing of the whole store ('' prefix) is checked for. */
    private readonly defaultProject: string,
  ) {}

  get kind(): OfflineStore['kind'] {
    return this.inner.kind;
  }

  get root(): string {
    return this.inner.root;
  }

  get capabilities(): OfflineCapabilities {
    return this.inner.capabilities;
  }

  /** Synchronous, so unchecked: it names a file and touches nothing. */
  localPath(key: string): string {
    return this.inner.localPath(key);
  }

  async writeTable(key: string, table: Table): Promise<ObjectInfo> {
    await this.ready(key);
    return this.inner.writeTable(key, table);
  }

  async *readTable(key: string, options?: ReadOptions): AsyncIterable<RowGroupBatch> {
    await this.ready(key);
    yield* this.inner.readTable(key, options);
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    await this.ready(key);
    return this.inner.putBytes(key, bytes);
  }

  async getBytes(key: string): Promise<Uint8Array> {
    await this.ready(key);
    return this.inner.getBytes(key);
  }

  async exists(key: string): Promise<boolean> {
    await this.ready(key);
    return this.inner.exists(key);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    await this.ready(prefix === '' ? this.defaultProject : prefix);
    yield* this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    await this.ready(key);
    return this.inner.delete(key);
  }

  async ensureReady(): Promise<void> {
    return this.inner.ensureReady();
  }

  async close(): Promise<void> {
    return this.inner.close();
  }

  private ready(key: string): Promise<void> {
    const project = key.split('/')[0]!;
    // Not a project's key (the inner store refuses unsafe keys): nothing to check.
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(project)) return Promise.resolve();
    let check = this.checked.get(project);
    if (!check) {
      check = this.checkProject(project);
      this.checked.set(project, check);
      check.catch(() => this.checked.delete(project));
    }
    return check;
  }
}
