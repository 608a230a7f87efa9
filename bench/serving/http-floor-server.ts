/**
 * The HTTP floor of bench/serving.ts: the least a Node HTTP feature server on this Redis does per
 * request, in a process of its own like `granary serve`. node:http with keep-alive, the request's
 * JSON parsed, every key of every view built with the store's key layout, one MGET (as the
 * server's readRows and the bench's raw floor), and the reply's bytes sent back as they came, with
 * no decoding, no Feast JSON, no auth, no metrics. What `granary serve` costs above this is the
 * server's own work; what this costs above the raw MGET is HTTP over loopback, which no server
 * can avoid.
 *
 * Started by bench/serving.ts with one argument, a JSON spec:
 *   { redisUrl, keyPrefix, views: [{ ref: GenerationRef, buckets, name }], services: { name: [view names] } }
 * Prints `on http://127.0.0.1:<port>` once listening; SIGTERM stops it.
 *
 * @example
 *   node --import tsx bench/serving/http-floor-server.ts '{"redisUrl":"redis://127.0.0.1:6379",...}'
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { KeyLayout, encodeEntityKey, type GenerationRef } from '../../stores/online/key-layout.ts';

interface Spec {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly views: readonly { readonly name: string; readonly ref: GenerationRef; readonly buckets: number }[];
  readonly services: Readonly<Record<string, readonly string[]>>;
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const layout = new KeyLayout(spec.keyPrefix);
const redis = new Redis(spec.redisUrl);
const viewsByName = new Map(spec.views.map((v) => [v.name, v]));

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { features?: string[]; feature_service?: string; entities: { user_id: number[] } };
    const views = body.feature_service ? spec.services[body.feature_service]! : [...new Set(body.features!.map((f) => f.slice(0, f.indexOf(':'))))];
    const keys: string[] = [];
    for (const name of views) {
      const view = viewsByName.get(name)!;
      for (const user of body.entities.user_id) keys.push(layout.packedRowKey(view.ref, encodeEntityKey([BigInt(user)]), view.buckets));
    }
    redis.mgetBuffer(...keys).then(
      (values) => {
        const out = Buffer.concat(values.map((v) => v ?? Buffer.alloc(0)));
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length }).end(out);
      },
      (error: Error) => response.writeHead(503).end(error.message),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`on http://127.0.0.1:${address.port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  redis.disconnect();
});
