// The skew sample log's thread (threaded-sample-log.ts): registers tsx, as bin/granary.mjs does,
// so the thread runs the TypeScript sources as they are, then starts the thread's side.
import { URL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(new URL('./sample-log-thread.ts', import.meta.url).href);
