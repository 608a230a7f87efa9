import type { GenerationLayout } from './generation-layout.ts';
import type { OnlineRead, OnlineTarget } from './online-store.ts';
import type { PackedRowCodec } from './packed-row-codec.ts';

/** The names of the features a read returns and their places in the packing (-1: not packed, null). */
export interface ReadColumns {
  readonly names: readonly string[];
  readonly wanted: readonly number[];
}

/**
 * What every read of one target shares, worked out once (serving's hot path reads the same
 * targets thousands of times a second): the generation's layout, its packing codec (layout 2),
 * the row keys' tag prefix (the escaped project and view names), and, per list of features asked
 * for, their names and places in the packing. `isCurrent` says whether the generation's layout is
 * still the one it was made from (a marker read again makes a new shape).
 *
 * @example
 *   const shape = new ReadShape(target, layout, codec, 'granary:{p:v:v1:g1:', () => true);
 *   shape.columnsOf({ target, entityKeys, features: ['age'] }) // => { names: ['age'], wanted: [3] }
 */
export class ReadShape {
  private readonly all: ReadColumns | undefined;
  private readonly picked = new WeakMap<readonly string[], ReadColumns>();

  constructor(
    readonly target: OnlineTarget,
    readonly layout: GenerationLayout,
    readonly codec: PackedRowCodec | undefined,
    readonly tagPrefix: string,
    readonly isCurrent: () => boolean,
  ) {
    this.all = codec ? this.columnsFor(target.features.map((f) => f.name)) : undefined;
  }

  /** The read's columns; a feature the target does not have is a TypeError naming the view. */
  columnsOf(read: OnlineRead): ReadColumns {
    if (!read.features) return this.all!;
    let columns = this.picked.get(read.features);
    if (!columns) {
      for (const name of read.features) featureOf(this.target, name);
      columns = this.columnsFor(read.features);
      this.picked.set(read.features, columns);
    }
    return columns;
  }

  private columnsFor(names: readonly string[]): ReadColumns {
    const packing = this.codec!.features;
    return { names: [...names], wanted: names.map((name) => packing.findIndex((g) => g.name === name)) };
  }
}

/** Read shapes per target object, given back only while current. */
export class ShapeCache {
  private readonly shapes = new WeakMap<OnlineTarget, ReadShape>();

  get(target: OnlineTarget): ReadShape | undefined {
    const shape = this.shapes.get(target);
    return shape?.isCurrent() ? shape : undefined;
  }

  set(target: OnlineTarget, shape: ReadShape): void {
    this.shapes.set(target, shape);
  }
}

/** The target's feature of that name; else a TypeError naming the view and its features. */
export function featureOf(target: OnlineTarget, name: string): OnlineTarget['features'][number] {
  const feature = target.features.find((f) => f.name === name);
  if (!feature) {
    throw new TypeError(`feature view '${target.view}' version ${target.version} has no feature '${name}' (it has: ${target.features.map((f) => f.name).join(', ')})`);
  }
  return feature;
}
