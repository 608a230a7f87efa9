import { parentPort, workerData } from 'node:worker_threads';
import { createOfflineStore } from '../stores/offline/create-offline-store.ts';
import { ServingSampleLog } from './serving-sample-log.ts';
import type { FromSampleThread, SampleThreadData, ToSampleThread } from './threaded-sample-log.ts';

// The thread's side of ThreadedSampleLog: a ServingSampleLog that logs every read it is sent
// (the draw was made in the server's thread), writing to an offline store of its own.
const data = workerData as SampleThreadData;
const port = parentPort!;
const offline = createOfflineStore(data.offline);
const log = new ServingSampleLog({
  offline,
  project: data.project,
  rate: 1,
  flushMs: data.flushMs,
  maxReads: data.maxReads,
  serverId: data.serverId,
  onError: (error) => port.postMessage({ kind: 'error', message: error.message } satisfies FromSampleThread),
});

port.on('message', (message: ToSampleThread) => {
  if (message.kind === 'reads') {
    for (const read of message.reads) log.served(read);
    return;
  }
  void (async () => {
    await log.close();
    await offline.close();
    port.postMessage({ kind: 'closed', stats: log.stats() } satisfies FromSampleThread);
  })();
});
