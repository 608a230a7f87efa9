/**
 * Masks credentials in any text Granary prints: the password of every `scheme://user:password@`
 * URL (whatever its scheme or shape, valid or not), and every secret value the configuration
 * holds or the environment sets (the S3 secret key, the passwords of GRANARY_POSTGRES_URL and
 * GRANARY_REDIS_URL, even when those are malformed). One function, used by configuration
 * errors, the CLI's error line and connection errors.
 *
 * @example
 *   maskSecrets("'postgress://app:Secret@db:5432/x' must start with postgres://")
 *   // => "'postgress://app:***@db:5432/x' must start with postgres://"
 */
export function maskSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let masked = text.replace(URL_CREDENTIALS, (_match, scheme: string, userinfo: string) => `${scheme}${maskUserinfo(userinfo)}@`);
  // Longest first, so a secret containing another one is masked whole.
  const secrets = [...registered, ...secretsOfEnv(env)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of secrets) masked = masked.split(secret).join(MASK);
  return masked;
}

/** Remembers a secret value (from granary.yaml, say) so maskSecrets hides it wherever it appears. */
export function registerSecret(value: unknown): void {
  if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH) registered.add(value);
}

/** Remembers the password of a URL-like text (`scheme://user:password@host`, or `user:password@host`), valid or not. */
export function registerUrlPassword(value: unknown): void {
  const password = typeof value === 'string' ? passwordOf(value) : undefined;
  if (password) registered.add(password);
}

const MASK = '***';
/** Shorter values are not masked where they appear on their own: they would mask ordinary words. */
const MIN_SECRET_LENGTH = 3;
/** `scheme://userinfo@`: the userinfo runs to the last `@` before a space or a quote, so a password holding `@` is masked whole. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s'"`<>]*)@/gi;
const SECRET_VARIABLES = ['GRANARY_S3_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'GRANARY_TOKEN'];
const URL_VARIABLES = ['GRANARY_POSTGRES_URL', 'GRANARY_REDIS_URL'];
const registered = new Set<string>();

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  // No colon: a user name alone (postgres://postgres@host), not a secret.
  return colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:${MASK}`;
}

function secretsOfEnv(env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  for (const name of SECRET_VARIABLES) if (env[name]) found.push(env[name]);
  for (const name of URL_VARIABLES) {
    const password = env[name] ? passwordOf(env[name]) : undefined;
    if (password) found.push(password);
  }
  return found;
}

/** The text between the userinfo's first ':' and its last '@', or undefined. */
function passwordOf(text: string): string | undefined {
  const afterScheme = text.includes('://') ? text.slice(text.indexOf('://') + 3) : text;
  const at = afterScheme.lastIndexOf('@');
  if (at < 0) return undefined;
  const userinfo = afterScheme.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return undefined;
  const password = userinfo.slice(colon + 1);
  return password.length > 0 ? password : undefined;
}
