/** Risk tier of a customer. */
export type Tier = 'low' | 'medium' | 'high';

/** A customer record: feature name to value; null or absent for unknown. */
export type CustomerRecord = Record<string, number | boolean | string | null | undefined>;

export interface Score {
  /** Calibrated churn probability. */
  probability: number;
  tier: Tier;
}

export interface Reason {
  feature: string;
  value: number | boolean | string | null;
  /** Contribution to the log-odds: positive raises the risk. */
  contribution: number;
}

export interface Explanation extends Score {
  margin: number;
  base: number;
  reasons: Reason[];
}

export declare class ChurnScorer {
  readonly featureNames: string[];
  readonly featureKinds: ('numeric' | 'categorical' | 'boolean')[];
  readonly modelId: string;
  readonly threshold: number;
  score(record: CustomerRecord): Score;
  explain(record: CustomerRecord, top?: number): Explanation;
  scoreBatch(values: Float64Array, columns: number): Float64Array;
  scoreRecords(records: CustomerRecord[]): Float64Array;
  categories(feature: string): string[];
}

/** Loads `model.bin`. In Node.js it returns the scorer; in browsers and workers a Promise. */
export declare function load(artifact: Uint8Array | ArrayBuffer, options?: { wasm?: unknown }): ChurnScorer | Promise<ChurnScorer>;
