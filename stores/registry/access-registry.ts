/**
 * The registry's access-control part (PostgreSQL): consumers (a model, a service, a person),
 * the salted hashes of their tokens, their grants per project, the history of every change to
 * those, and the audit of restricted reads. Tokens themselves are never stored (access/consumer-token.ts).
 * Consumers are global; grants are per project (projects are walls: a consumer reads nothing of
 * a project that granted it nothing).
 *
 * @example
 *   const access: AccessRegistry = new PostgresAccessRegistry({ url: config.registry.url });
 *   await access.createConsumer({ name: 'fraud_model', project: 'fraud', description: '', token: hashed, actor: 'ana' });
 *   await access.grant({ project: 'fraud', consumer: 'fraud_model', kind: 'service', name: 'fraud_model_v1', feature: null, approvedBy: null }, 'ana');
 *   (await access.snapshot('fraud')).grants.length // => 1
 */
export interface Consumer {
  readonly name: string;
  /** The project whose configuration created it (for display: grants decide what it reads). */
  readonly project: string;
  readonly description: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** What is stored of a token: its public id, and a salted hash of its secret part. */
export interface TokenHash {
  readonly tokenId: string;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export interface StoredToken extends TokenHash {
  readonly consumer: string;
  readonly createdAt: Date;
  /** Set by a rotation: the token stops working at this time (the grace period's end). */
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

/** What a grant covers: a feature service, a feature view (every feature, every version), or one feature of a view. */
export type GrantKind = 'service' | 'view' | 'feature';

export interface GrantInput {
  readonly project: string;
  readonly consumer: string;
  readonly kind: GrantKind;
  /** The service or view name. */
  readonly name: string;
  /** The feature, for kind 'feature'; null otherwise. */
  readonly feature: string | null;
  /** Who approved it: required (by the CLI) when it covers restricted features. */
  readonly approvedBy: string | null;
}

export interface Grant extends GrantInput {
  readonly grantedAt: Date;
}

export type AccessAction = 'create-consumer' | 'rotate-token' | 'revoke-consumer' | 'grant' | 'revoke-grant';

export interface AccessEvent {
  readonly id: number;
  readonly project: string;
  readonly consumer: string;
  readonly action: AccessAction;
  /** `project:target` of a grant or revoke; '' for consumer events. */
  readonly target: string;
  readonly approvedBy: string | null;
  /** Who ran the command (the OS user). */
  readonly actor: string;
  readonly detail: string;
  readonly at: Date;
}

/** Everything a server of one project needs to authenticate and authorize, as of `version`. */
export interface AccessSnapshot {
  /** The id of the newest history row: any change to consumers, tokens or grants moves it. */
  readonly version: number;
  readonly consumers: readonly Consumer[];
  readonly tokens: readonly StoredToken[];
  /** The grants of the project only. */
  readonly grants: readonly Grant[];
}

/** Reads of restricted features, counted per consumer, per read and per time bucket. */
export interface RestrictedReadCount {
  readonly project: string;
  readonly consumer: string;
  /** 'service:<name>' or 'features:<view:feature,...>' (the restricted features read). */
  readonly read: string;
  readonly bucket: Date;
  readonly count: number;
}

export interface AccessRegistry {
  /** Creates a consumer with its first token; throws AccessError when the name is taken. */
  createConsumer(input: { name: string; project: string; description: string; token: TokenHash; actor: string }): Promise<Consumer>;
  /** Adds a new token; the consumer's other live tokens expire after `graceMs` (0: now). Returns how many were set to expire. */
  rotateToken(input: { name: string; project: string; token: TokenHash; graceMs: number; actor: string }): Promise<number>;
  /** The consumer and every token of it stop working (within the servers' refresh period); its grants stay, for the record. */
  revokeConsumer(input: { name: string; project: string; actor: string }): Promise<void>;
  /** Records a grant (an existing one has its approval updated); one history row either way. */
  grant(grant: GrantInput, actor: string): Promise<Grant>;
  /** Removes a grant; false when there was none (nothing written). */
  revokeGrant(grant: Omit<GrantInput, 'approvedBy'>, actor: string): Promise<boolean>;
  consumer(name: string): Promise<Consumer | undefined>;
  consumers(): Promise<Consumer[]>;
  grants(filter?: { readonly project?: string; readonly consumer?: string }): Promise<Grant[]>;
  history(filter?: { readonly project?: string; readonly consumer?: string }): Promise<AccessEvent[]>;
  /** The newest history id: one cheap query, polled by servers to know when to reload. */
  accessVersion(): Promise<number>;
  snapshot(project: string): Promise<AccessSnapshot>;
  /** Adds counts to the audit table (upsert: count += n), in one statement. */
  recordRestrictedReads(counts: readonly RestrictedReadCount[]): Promise<void>;
  restrictedReads(filter?: { readonly project?: string; readonly consumer?: string }): Promise<RestrictedReadCount[]>;
  close(): Promise<void>;
}

/** `project:service`, `project:view` or `project:view:feature`: how grants are named on the command line and in the history. */
export function grantTarget(grant: Pick<GrantInput, 'project' | 'name' | 'feature'>): string {
  return `${grant.project}:${grant.name}${grant.feature ? `:${grant.feature}` : ''}`;
}

/** A refused access-control change (a taken name, an unknown consumer, a missing approval): the message says what and why. */
export class AccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccessError';
  }
}
