/** Granary's public API: the definition language (and, as they land, the SDK). */
export * from './definitions/index.ts';
