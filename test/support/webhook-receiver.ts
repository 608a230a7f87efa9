import { createServer, type IncomingMessage } from 'node:http';
import type { StateChange } from '../../monitoring/webhook-notifier.ts';

/** One POST the monitoring webhooks sent: a project's state changes. */
export interface ReceivedChanges {
  readonly project: string;
  readonly changes: StateChange[];
}

/**
 * A webhook endpoint on loopback for the monitoring tests: every POSTed body (JSON) is kept in
 * `received`, answered 204. `url(path)` is its address.
 *
 * @example
 *   const hook = await startWebhookReceiver();
 *   after(() => hook.close());
 *   startWorkerProcess({ ...env, GRANARY_MONITOR_WEBHOOKS: hook.url('/granary') });
 */
export async function startWebhookReceiver(): Promise<{ received: ReceivedChanges[]; url(path: string): string; close(): void }> {
  const received: ReceivedChanges[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as ReceivedChanges);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { received, url: (path) => `http://127.0.0.1:${port}${path}`, close: () => server.close() };
}
