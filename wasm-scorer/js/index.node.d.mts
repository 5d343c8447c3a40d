import type { ChurnScorer } from './record.mjs';

export type { ChurnScorer, CustomerRecord, Explanation, FeatureKind, Reason, Score, Tier } from './record.mjs';

/** Loads `model.bin` (the bytes of the binary artifact), synchronously. */
export declare function load(artifact: Uint8Array | ArrayBuffer): ChurnScorer;

/** The newest artifact format version this package reads. */
export declare function artifactVersion(): number;
