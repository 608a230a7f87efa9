import { resolve } from 'node:path';
import { CONFIG_FILE, type OfflineSettings } from '../config/granary-config.ts';
import { createOfflineStore } from './offline/create-offline-store.ts';
import type { OfflineStore } from './offline/offline-store.ts';
import type { FeatureViewSpec } from '../definitions/spec.ts';
import type { Registry } from './registry/registry.ts';
import type { OfflineHome } from './registry/project-home.ts';

/**
 * A project's data has one home (DESIGN.md, invariant 10). Its first apply records where its
 * offline data lives in the registry (URL, S3 endpoint and bucket; never credentials); every
 * process that touches the project's offline store checks its own configuration against that
 * record and refuses a mismatch, naming both locations. A local folder is compared as an
 * absolute path, so two checkouts with the same relative setting are two different homes.
 *
 * @example
 *   await checkOfflineHome(registry, config.offline, { record: true });
 *   // => { kind: 's3', url: 's3://granary/offline', s3Endpoint: 'http://127.0.0.1:19000', ... }
 *   // from a checkout configured with ./.granary/offline instead, it throws:
 *   // OfflineHomeMismatchError: project 'fraud' keeps its offline data in s3://granary/offline at
 *   //   http://127.0.0.1:19000 (recorded by its first apply), but this process is configured with
 *   //   /home/me/other-checkout/.granary/offline: set GRANARY_OFFLINE_URL (offline.url in granary.yaml) to s3://granary/offline
 */
export interface CheckOfflineHomeOptions {
  /**
   * Record the configured home when the project has none (its first apply; the first process
   * after an upgrade from a registry that recorded nothing). Without it, an unrecorded project
   * passes and nothing is written.
   */
  readonly record: boolean;
  /** The configured offline store, to check a legacy project's data is there and to create the bucket or folder; opened (and closed) here when absent. */
  readonly offline?: OfflineStore;
}

/** Checks the configured offline store against the project's recorded home; returns the home (undefined when none is recorded and `record` is false). */
export async function checkOfflineHome(registry: Registry, settings: OfflineSettings, options: CheckOfflineHomeOptions): Promise<OfflineHome | undefined> {
  const configured = offlineHomeOf(settings);
  const existing = await registry.offlineHome();
  if (existing) {
    if (!sameOfflineHome(existing, configured)) throw new OfflineHomeMismatchError(registry.project, existing, configured);
    return existing;
  }
  if (!options.record) return undefined;
  const offline = options.offline ?? createOfflineStore(settings);
  try {
    await checkLegacyData(registry, offline, configured);
    await offline.ensureReady(); // the bucket or folder, created when missing (idempotent)
  } finally {
    if (!options.offline) await offline.close();
  }
  const { home } = await registry.recordOfflineHome(configured);
  // Another process recorded first, with another configuration: the first one stands.
  if (!sameOfflineHome(home, configured)) throw new OfflineHomeMismatchError(registry.project, home, configured);
  return home;
}

/** The home a configuration names: S3 endpoints without credentials or a trailing '/', local folders as absolute paths. */
export function offlineHomeOf(settings: OfflineSettings): OfflineHome {
  if (settings.kind === 'local') return { kind: 'local', url: resolve(settings.path), s3Endpoint: null, s3Bucket: null };
  const prefix = settings.prefix.replace(/^\/+|\/+$/g, '');
  return {
    kind: 's3',
    url: `s3://${settings.bucket}${prefix ? `/${prefix}` : ''}`,
    s3Endpoint: normalizeEndpoint(settings.s3.endpoint),
    s3Bucket: settings.bucket,
  };
}

export function sameOfflineHome(a: OfflineHome, b: OfflineHome): boolean {
  return a.kind === b.kind && a.url === b.url && (a.s3Endpoint ?? null) === (b.s3Endpoint ?? null);
}

/** 's3://granary/offline at http://127.0.0.1:19000', 's3://features/offline (AWS)' or '/srv/granary/offline'. */
export function describeOfflineHome(home: OfflineHome): string {
  if (home.kind === 'local') return home.url;
  return `${home.url} ${home.s3Endpoint ? `at ${home.s3Endpoint}` : '(AWS S3, no endpoint)'}`;
}

/** A process configured with another offline store than the project's recorded home. */
export class OfflineHomeMismatchError extends Error {
  constructor(
    readonly project: string,
    readonly recorded: OfflineHome,
    readonly configured: OfflineHome,
  ) {
    const fixes = [`GRANARY_OFFLINE_URL (offline.url in ${CONFIG_FILE}) to ${recorded.url}`];
    if (recorded.kind === 's3' && recorded.s3Endpoint !== configured.s3Endpoint) {
      fixes.push(
        recorded.s3Endpoint
          ? `GRANARY_S3_ENDPOINT (offline.s3.endpoint) to ${recorded.s3Endpoint}`
          : `no S3 endpoint (offline.s3.endpoint), which means AWS S3`,
      );
    }
    super(
      `project '${project}' keeps its offline data in ${describeOfflineHome(recorded)} (recorded by its first apply), ` +
        `but this process is configured with ${describeOfflineHome(configured)}: set ${fixes.join(' and ')}`,
    );
    this.name = 'OfflineHomeMismatchError';
  }
}

/**
 * A project from before homes were recorded may have committed data elsewhere (the old default
 * was a folder of the working directory): its home is recorded only where its first committed
 * object is found, so an upgrade never pins a project to a store that lacks its data.
 */
async function checkLegacyData(registry: Registry, offline: OfflineStore, configured: OfflineHome): Promise<void> {
  for (const view of await registry.listObjects('featureView', { includeRemoved: true })) {
    const spec = view.spec as FeatureViewSpec;
    const [first] = await registry.commits(spec.name, spec.version, { limit: 1 });
    const key = first?.objects[0]?.key;
    if (key === undefined) continue;
    if (await offline.exists(key)) return;
    throw new OfflineHomeUnknownError(registry.project, key, configured);
  }
}

/** A project with committed data and no recorded home, whose data is not where this process looks. */
export class OfflineHomeUnknownError extends Error {
  constructor(
    readonly project: string,
    readonly committedKey: string,
    readonly configured: OfflineHome,
  ) {
    super(
      `project '${project}' has committed offline data ('${committedKey}') that is not in ${describeOfflineHome(configured)}, ` +
        `and its location was never recorded (a registry from before Granary recorded it): set GRANARY_OFFLINE_URL (offline.url in ${CONFIG_FILE}) ` +
        `to where that data is (the default used to be the folder .granary/offline of the working directory); the first process configured so records it`,
    );
    this.name = 'OfflineHomeUnknownError';
  }
}

function normalizeEndpoint(endpoint: string | null): string | null {
  if (endpoint === null) return null;
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint.replace(/\/+$/, '');
  }
}
