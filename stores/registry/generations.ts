export interface Generation {
  readonly view: string;
  readonly version: number;
  readonly generation: number;
  /**
   * building (a rebuild fills it; at most one) -> active (serving reads it; exactly one) ->
   * retired (replaced by a newer one; its keys are still in Redis) -> dropped (keys deleted).
   */
  readonly state: 'building' | 'active' | 'retired' | 'dropped';
  readonly createdAt: Date;
  readonly activatedAt?: Date;
  readonly retiredAt?: Date;
  /** Set by `generations()`: the generation's watermark and when it last moved. */
  readonly watermark?: number;
  readonly watermarkUpdatedAt?: Date;
}

/** Online generations of a view version: the active one, the one being built, and the retired ones dropped. */
export interface Generations {
  /** The generation serving reads; creates generation 1 as active when there is none. */
  activeGeneration(view: string, version: number): Promise<Generation>;
  /** Every generation of the view version, newest first, with its watermark. */
  generations(view: string, version: number): Promise<Generation[]>;
  /** The generation being built, or a new one (the next number) in state 'building'. Idempotent. */
  buildingGeneration(view: string, version: number): Promise<Generation>;
  /** Records that a retired generation's keys were deleted. */
  markGenerationDropped(view: string, version: number, generation: number): Promise<void>;
}
