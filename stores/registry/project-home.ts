/**
 * Where a project's offline data lives, recorded in the registry by its first apply
 * (stores/offline-home.ts): every process that touches the project's offline store must be
 * configured with the same one. Never holds credentials.
 */
export interface OfflineHome {
  readonly kind: 'local' | 's3';
  /** 's3://bucket/prefix', or the absolute path of a local folder. */
  readonly url: string;
  /** The S3 endpoint (MinIO and friends), without credentials; null for AWS's own and for a local folder. */
  readonly s3Endpoint: string | null;
  readonly s3Bucket: string | null;
  /** Set on homes read from the registry. */
  readonly recordedAt?: Date;
}

/** Where the project's offline data lives (invariant 10), recorded once. */
export interface ProjectHome {
  /** Where the project's offline data lives; undefined until recorded. */
  offlineHome(): Promise<OfflineHome | undefined>;
  /** Records the project's offline home unless one is recorded; returns the recorded one (the first wins). */
  recordOfflineHome(home: OfflineHome): Promise<{ home: OfflineHome; recorded: boolean }>;
}
