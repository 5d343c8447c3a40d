// Types of the scorer (record.mjs); both entry points (index.web.mjs, index.node.mjs)
// re-export them.

/** Risk tier of a customer: `high` from `threshold` up, `medium` from `mediumFrom`. */
export type Tier = 'low' | 'medium' | 'high';

/** A feature's kind, which says what a record may hold for it. */
export type FeatureKind = 'numeric' | 'categorical' | 'boolean';

/** A customer record: feature name to value; null or absent for unknown. Numbers for
 * numeric features, booleans for boolean ones, strings for categories. */
export type CustomerRecord = Record<string, number | boolean | string | null | undefined>;

export interface Score {
  /** Calibrated churn probability, as the batch pipeline computes it. */
  probability: number;
  tier: Tier;
}

export interface Reason {
  feature: string;
  /** The record's value of the feature (null when unknown). */
  value: number | boolean | string | null;
  /** Contribution to the log-odds: positive raises the risk. */
  contribution: number;
}

export interface Explanation extends Score {
  /** The model's log-odds for this record. */
  margin: number;
  /** The log-odds of an average customer: `base + sum of all contributions = margin`. */
  base: number;
  /** The strongest risk-raising features, largest contribution first. */
  reasons: Reason[];
}

/** A loaded model. Every method throws an `Error` naming the problem on bad input, and
 * keeps working afterwards. */
export declare class ChurnScorer {
  /** Feature names, in record order (the column order of `scoreBatch`). */
  readonly featureNames: string[];
  readonly featureKinds: FeatureKind[];
  readonly modelId: string;
  /** The decision threshold: the high tier starts here. */
  readonly threshold: number;
  /** Where the medium tier starts. */
  readonly mediumFrom: number;
  tier(probability: number): Tier;
  score(record: CustomerRecord): Score;
  explain(record: CustomerRecord, top?: number): Explanation;
  /** Probabilities of `values.length / columns` records given as numbers in feature
   * order: booleans as 0/1, categories as their index in `categories(feature)`, NaN for
   * unknown. */
  scoreBatch(values: Float64Array, columns: number): Float64Array;
  scoreRecords(records: CustomerRecord[]): Float64Array;
  /** The known categories of a categorical feature. */
  categories(feature: string): string[];
}
