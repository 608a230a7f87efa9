import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FeatureServer } from '../../serving/feature-server.ts';
import { servingConsumer } from '../serving/serving-consumer.ts';
import { servingFixture, userProfile } from '../serving/serving-fixtures.ts';
import { tempDir } from '../support/temp-dir.ts';
import { startServe } from '../support/serve-process.ts';

/**
 * Issue 18, item 6 (the feature server's part): HTTPS with a certificate signed by a CA made
 * here with openssl. A client trusting that CA reads with its token; one that does not is
 * refused by TLS; `granary serve --tls-cert/--tls-key` prints an https URL and answers on it.
 */
const BIN = fileURLToPath(new URL('../../bin/granary.mjs', import.meta.url));
const dir = await tempDir('granary-tls');
after(() => rm(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=granary test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr'));
writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('san.ext'), '-out', file('server.pem'));
const ca = readFileSync(file('ca.pem'));

const fixture = await servingFixture('serving_tls');
await fixture.write(userProfile, [{ entityKey: ['u1'], values: { age: 31, country: 'FR' }, eventTime: Date.now() - 60_000, createdTime: 0 }]);
const consumer = await servingConsumer(fixture);
const body = JSON.stringify({ features: ['user_profile:age'], entities: { user_id: ['u1'] } });

function post(url: string, options: { ca?: Buffer; token?: string }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = request(`${url}/get-online-features`, { method: 'POST', headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the feature server serves HTTPS with a certificate from a test CA; a client that does not trust the CA is refused', async () => {
  const server = new FeatureServer({
    registry: fixture.registry,
    online: fixture.online,
    access: consumer.access,
    tls: { cert: readFileSync(file('server.pem')), key: readFileSync(file('server.key')) },
  });
  const url = await server.listen({ port: 0 });
  after(() => server.close());
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const read = await post(url, { ca, token: consumer.token });
  assert.equal(read.status, 200, read.text);
  assert.deepEqual((JSON.parse(read.text) as { results: { values: unknown[] }[] }).results[1]!.values, [31]);
  assert.equal((await post(url, { ca })).status, 401);
  await assert.rejects(post(url, { token: consumer.token }), /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/);
});

test('granary serve --tls-cert/--tls-key prints an https URL and answers on it; one flag alone is refused', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...fixture.env, ...consumer.env };
  delete env.NODE_TEST_CONTEXT;
  const server = await startServe(['--port', '0', '--tls-cert', file('server.pem'), '--tls-key', file('server.key')], env);
  const { child, url } = server;
  try {
    const read = await post(url, { ca, token: consumer.token });
    assert.equal(read.status, 200, read.text);
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    assert.equal(((await exited) as [number | null])[0], 0, server.stderr());
  }
  const alone = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tls-cert', file('server.pem')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  alone.stderr.on('data', (d: Buffer) => (err += d));
  assert.equal(((await once(alone, 'exit')) as [number | null])[0], 1);
  assert.match(err, /give both --tls-cert and --tls-key/);
});
