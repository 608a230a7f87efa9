import type { ObjectKind } from '../spec.ts';
import type { ServiceEffect } from './service-effects.ts';

/** What `granary plan` shows and apply does: the changes from the registered definitions to a repo's, field by field. */
export interface FieldChange {
  /** Dotted path in the spec, e.g. 'features.spend_7d_avg.type'. */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly breaking: boolean;
  /**
   * Why it is breaking, and what to do (e.g. "create feature view 'user_spend' version 2 beside
   * version 1"); for additive changes, an optional note (e.g. a rename hint).
   */
  readonly reason?: string;
  /**
   * Set (true) when apply accepts the change but it alters what a served feature service returns
   * (its columns, or the values served for missing ones): breaking for the models reading it.
   */
  readonly breaksConsumers?: true;
}

export interface ObjectChange {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly version: number;
  /**
   * A view is keyed by (name, version): a new version is an 'add'. Re-adding a removed object is
   * an 'add' whose fields are diffed against its last registered state.
   */
  readonly action: 'add' | 'update' | 'remove';
  readonly fields: readonly FieldChange[];
  readonly breaking: boolean;
  /** Set (true) when the change breaks consumers of a feature service (see FieldChange). */
  readonly breaksConsumers?: true;
}

export interface Plan {
  readonly project: string;
  readonly changes: readonly ObjectChange[];
  /** Some change is breaking: apply refuses the plan. */
  readonly breaking: boolean;
  /** What the plan does to each served feature service (definitions/changes/service-effects.ts). */
  readonly services: readonly ServiceEffect[];
  /** Some service's consumers break: it is removed, or serves other columns or values. */
  readonly breaksConsumers: boolean;
}
