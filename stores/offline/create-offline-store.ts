import { readFileSync } from 'node:fs';
import type { OfflineSettings } from '../../config/granary-config.ts';
import { LocalOfflineStore } from './local-offline-store.ts';
import type { OfflineStore } from './offline-store.ts';
import { S3OfflineStore } from './s3-offline-store.ts';

/**
 * The offline store a configuration names: a local folder or an S3 bucket and prefix. The one
 * place that looks at `settings.kind`; everything else uses the OfflineStore contract.
 *
 * @example
 *   createOfflineStore({ kind: 'local', path: '/repo/.granary/offline' }).root // => '/repo/.granary/offline'
 *   createOfflineStore(loadConfig().offline).root // => 's3://granary/offline'
 */
export function createOfflineStore(settings: OfflineSettings): OfflineStore {
  switch (settings.kind) {
    case 'local':
      return new LocalOfflineStore({ path: settings.path });
    case 's3': {
      const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, tlsCa } = settings.s3;
      return new S3OfflineStore({
        bucket: settings.bucket,
        prefix: settings.prefix,
        endpoint,
        region,
        forcePathStyle,
        credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : null,
        ...(tlsCa ? { tlsCa: readFileSync(tlsCa, 'utf8') } : {}),
      });
    }
  }
}
