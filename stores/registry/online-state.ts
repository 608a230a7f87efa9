import type { CutOver } from './cut-over.ts';
import type { Generations } from './generations.ts';
import type { Watermarks } from './watermarks.ts';

/** The registry's record of the online store: watermarks, generations and the cut-over between them. */
export interface OnlineState extends Watermarks, Generations, CutOver {}
