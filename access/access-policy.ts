import type { AccessSnapshot, Grant, StoredToken } from '../stores/registry/access-registry.ts';
import { MAX_TOKEN_CHARS, parseToken, secretHash, verifySecret } from './consumer-token.ts';

/**
 * Who may read what, in one project, as of one registry snapshot: it authenticates an
 * `Authorization: Bearer <token>` header and decides whether a consumer may read a list of
 * features, all or nothing.
 *
 * The rule (docs/plans/access-control.md): a consumer reads exactly what it is granted in the
 * project, nothing by default. A grant covers a feature service (the features it lists), a
 * feature view (every feature of every version) or one feature. A restricted feature (`pii: true`,
 * or any feature of a view with `sensitivity: 'restricted'`) further needs a covering grant that
 * records who approved it. Grants of other projects count for nothing here: projects are walls.
 *
 * @example
 *   const policy = new AccessPolicy(await access.snapshot('fraud'));
 *   const who = policy.authenticate(request.headers.authorization); // => { ok: true, consumer: 'fraud_model' }
 *   policy.denied('fraud_model', [{ ref: 'user_spend_features:spend_7d_avg', restricted: false }], serviceRefs) // => []
 */
export interface RequestedFeature {
  /** `view:feature`. */
  readonly ref: string;
  readonly restricted: boolean;
}

export interface DeniedFeature {
  readonly ref: string;
  /** 'not-granted', or 'needs-approval' (restricted, and no covering grant records an approval). */
  readonly why: 'not-granted' | 'needs-approval';
}

export type AuthFailure = 'missing' | 'malformed' | 'unknown-token' | 'expired' | 'revoked';
export type Authentication = { readonly ok: true; readonly consumer: string } | { readonly ok: false; readonly reason: AuthFailure };

/** The features each feature service lists (`view:feature`), or undefined for a service that does not exist. */
export type ServiceRefs = (service: string) => readonly string[] | undefined;

const BEARER = /^Bearer ([!-~]+)$/i;
/** A hash compared against when the token id is unknown, so a miss costs what a hit costs. */
const DECOY = { salt: Buffer.alloc(16), hash: secretHash(Buffer.alloc(16), 'decoy') };

export class AccessPolicy {
  readonly version: number;
  private readonly tokens = new Map<string, StoredToken>();
  private readonly revoked = new Set<string>();
  private readonly grantsOf = new Map<string, Grant[]>();

  constructor(snapshot: AccessSnapshot) {
    this.version = snapshot.version;
    for (const token of snapshot.tokens) this.tokens.set(token.tokenId, token);
    for (const consumer of snapshot.consumers) if (consumer.revokedAt) this.revoked.add(consumer.name);
    for (const grant of snapshot.grants) {
      const list = this.grantsOf.get(grant.consumer) ?? [];
      list.push(grant);
      this.grantsOf.set(grant.consumer, list);
    }
  }

  /** The consumer an Authorization header names, or why it names none. Never throws. */
  authenticate(authorization: string | undefined, now = Date.now()): Authentication {
    if (authorization === undefined || authorization === '') return { ok: false, reason: 'missing' };
    if (authorization.length > 'Bearer '.length + MAX_TOKEN_CHARS) return { ok: false, reason: 'malformed' };
    const bearer = BEARER.exec(authorization);
    const parsed = bearer ? parseToken(bearer[1]!) : undefined;
    if (!parsed) return { ok: false, reason: 'malformed' };
    const stored = this.tokens.get(parsed.tokenId);
    const matches = verifySecret(parsed.secret, stored ?? DECOY);
    if (!stored || !matches) return { ok: false, reason: 'unknown-token' };
    if (stored.revokedAt || this.revoked.has(stored.consumer)) return { ok: false, reason: 'revoked' };
    if (stored.expiresAt && stored.expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
    return { ok: true, consumer: stored.consumer };
  }

  /** The requested features the consumer may not read, in request order; empty when it may read them all. */
  denied(consumer: string, requested: readonly RequestedFeature[], serviceRefs: ServiceRefs): DeniedFeature[] {
    const grants = this.grantsOf.get(consumer) ?? [];
    const out: DeniedFeature[] = [];
    for (const feature of requested) {
      const covering = grants.filter((g) => covers(g, feature.ref, serviceRefs));
      if (covering.length === 0) out.push({ ref: feature.ref, why: 'not-granted' });
      else if (feature.restricted && !covering.some((g) => g.approvedBy)) out.push({ ref: feature.ref, why: 'needs-approval' });
    }
    return out;
  }

  /** The consumer's grants in this project. */
  grants(consumer: string): readonly Grant[] {
    return this.grantsOf.get(consumer) ?? [];
  }
}

/** Whether a grant covers `view:feature`. */
export function covers(grant: Pick<Grant, 'kind' | 'name' | 'feature'>, ref: string, serviceRefs: ServiceRefs): boolean {
  const colon = ref.indexOf(':');
  const view = ref.slice(0, colon);
  switch (grant.kind) {
    case 'view':
      return grant.name === view;
    case 'feature':
      return grant.name === view && grant.feature === ref.slice(colon + 1);
    case 'service':
      return serviceRefs(grant.name)?.includes(ref) === true;
  }
}

/** One line for a 403: which features, and what would let the consumer read them. */
export function deniedMessage(consumer: string, project: string, denied: readonly DeniedFeature[]): string {
  const list = (why: DeniedFeature['why']) => denied.filter((d) => d.why === why).map((d) => `'${d.ref}'`);
  const parts: string[] = [];
  const notGranted = list('not-granted');
  const unapproved = list('needs-approval');
  if (notGranted.length) parts.push(`${notGranted.join(', ')} (not granted)`);
  if (unapproved.length) parts.push(`${unapproved.join(', ')} (restricted: needs a grant with --approved-by)`);
  return `consumer '${consumer}' may not read ${parts.join('; ')} of project '${project}'; nothing was read (granary access grant ${consumer} ${project}:<service|view|view:feature>)`;
}
