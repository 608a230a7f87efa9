import { randomBytes } from 'node:crypto';
import { newToken } from '../../access/consumer-token.ts';

/**
 * The attacker of auth-abuse.test.ts, run as a process of its own:
 * `node --import tsx bad-token-attacker.ts <url> <requests> <concurrency> <a good token>`. Sends
 * the requests with bad or malformed Authorization headers (cycling through 12 kinds, the good
 * token's id with a wrong secret among them) and prints `{ statuses, slowest, seconds, retryAfter }`
 * as JSON (retryAfter: the distinct Retry-After headers of the 429s).
 */
const [url, requests, concurrency, goodToken] = process.argv.slice(2) as [string, string, string, string];
const body = JSON.stringify({ features: ['user_profile:age', 'user_profile:country'], entities: { user_id: ['u1'] } });

/** The i-th bad Authorization header (undefined: none at all). */
function badHeader(i: number): string | undefined {
  const wellFormed = newToken().token;
  switch (i % 12) {
    case 0: return undefined;
    case 1: return '';
    case 2: return wellFormed; // no scheme
    case 3: return `Bearer ${wellFormed}`; // well-formed, unknown
    case 4: return `Bearer ${goodToken.slice(0, -1)}${goodToken.endsWith('A') ? 'B' : 'A'}`; // a known id, a wrong secret
    case 5: return `Basic ${randomBytes(12).toString('base64')}`;
    case 6: return 'Bearer';
    case 7: return `Bearer  ${wellFormed}`;
    case 8: return `Bearer ${'x'.repeat(8000)}`;
    case 9: return `Bearer ${Array.from(randomBytes(48), (b) => String.fromCharCode(0xa0 + (b % 96))).join('')}`; // latin-1, not ASCII
    case 10: return `bearer ${goodToken}x`;
    default: return `Bearer ${goodToken} ${goodToken}`;
  }
}

let next = 0;
let slowest = 0;
const retryAfter = new Set<string>();
const started = performance.now();
const statuses: Record<string, number> = {};
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (next < Number(requests)) {
      const header = badHeader(next++);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (header !== undefined) headers.authorization = header;
      const sent = performance.now();
      const response = await fetch(`${url}/get-online-features`, { method: 'POST', headers, body });
      await response.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - sent);
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      if (response.status === 429) retryAfter.add(response.headers.get('retry-after') ?? '(none)');
    }
  }),
);
process.stdout.write(JSON.stringify({ statuses, slowest, seconds: (performance.now() - started) / 1000, retryAfter: [...retryAfter] }));
