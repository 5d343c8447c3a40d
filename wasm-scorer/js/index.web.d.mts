import type { ChurnScorer } from './record.mjs';

export type { ChurnScorer, CustomerRecord, Explanation, FeatureKind, Reason, Score, Tier } from './record.mjs';

/** Loads `model.bin` (the bytes of the binary artifact). `options.wasm` gives the
 * WebAssembly module (a URL, a Response, bytes or a compiled WebAssembly.Module) where it
 * cannot be fetched next to this file, as in edge workers. */
export declare function load(
  artifact: Uint8Array | ArrayBuffer,
  options?: { wasm?: URL | string | Response | BufferSource | WebAssembly.Module },
): Promise<ChurnScorer>;

/** The newest artifact format version this package reads (call after `load`). */
export declare function artifactVersion(): number;
