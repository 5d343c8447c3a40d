// The JavaScript side of the churn scorer: reads a record's fields and hands them to
// WebAssembly in one crossing (type tags, numbers, texts), and turns the results back
// into plain objects. Validation and error messages live in the Rust side.

const TAGS = { missing: 0, number: 1, boolean: 2, text: 3, other: 4 };
const SEPARATOR = '\u001f';
const TIERS = ['low', 'medium', 'high'];

export class ChurnScorer {
  /** @param wasm a loaded WasmScorer (the wasm-bindgen class) */
  constructor(wasm) {
    this.wasm = wasm;
    this.featureNames = wasm.featureNames;
    this.featureKinds = wasm.featureKinds;
    this.modelId = wasm.modelId;
    this.threshold = wasm.threshold;
    this.mediumFrom = wasm.mediumFrom;
    const count = this.featureNames.length;
    // One array crosses into wasm: the type tags, then the numbers.
    this.packed = new Float64Array(2 * count);
    this.tags = this.packed.subarray(0, count);
    this.numbers = this.packed.subarray(count);
  }

  /** The tier of a probability (as churn-core's Decision::tier). */
  tier(probability) {
    if (probability >= this.threshold) return 'high';
    return probability >= this.mediumFrom ? 'medium' : 'low';
  }

  /** Packs a record into this.tags / this.numbers and returns the joined texts. */
  pack(record) {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new Error('a record is a plain object of feature values, e.g. {"tenure_days": 120}');
    }
    const { featureNames, tags, numbers } = this;
    let texts = '';
    let first = true;
    for (let i = 0; i < featureNames.length; i++) {
      const value = record[featureNames[i]];
      numbers[i] = 0;
      if (value === null || value === undefined) {
        tags[i] = TAGS.missing;
      } else if (typeof value === 'number') {
        tags[i] = TAGS.number;
        numbers[i] = value;
      } else if (typeof value === 'boolean') {
        tags[i] = TAGS.boolean;
        numbers[i] = value ? 1 : 0;
      } else if (typeof value === 'string') {
        if (value.includes(SEPARATOR)) {
          throw new Error(`feature '${featureNames[i]}' contains the control character U+001F`);
        }
        tags[i] = TAGS.text;
        texts = first ? value : texts + SEPARATOR + value;
        first = false;
      } else {
        tags[i] = TAGS.other;
      }
    }
    return texts;
  }

  /** Probability and tier of one record. */
  score(record) {
    const probability = this.wasm.scorePacked(this.packed, this.pack(record));
    return { probability, tier: this.tier(probability) };
  }

  /** Probability, tier and the `top` strongest risk-raising reasons of one record. */
  explain(record, top = 3) {
    const texts = this.pack(record);
    const result = this.wasm.explainPacked(this.packed, texts, top);
    const reasons = [];
    for (let i = 4; i < result.length; i += 2) {
      const feature = this.featureNames[result[i]];
      reasons.push({ feature, value: record[feature] ?? null, contribution: result[i + 1] });
    }
    return { probability: result[0], tier: TIERS[result[1]], margin: result[2], base: result[3], reasons };
  }

  /** Probabilities of many records given as numbers: `columns` per record in feature
   * order, booleans as 0/1, categories as their index in `categories(feature)`, NaN for
   * missing. */
  scoreBatch(values, columns) {
    if (!(values instanceof Float64Array)) {
      throw new Error('scoreBatch takes a Float64Array of values and the column count');
    }
    return this.wasm.scoreBatch(values, columns);
  }

  /** Probabilities of an array of records. */
  scoreRecords(records) {
    if (!Array.isArray(records)) throw new Error('scoreRecords takes an array of records');
    const out = new Float64Array(records.length);
    for (let i = 0; i < records.length; i++) out[i] = this.wasm.scorePacked(this.packed, this.pack(records[i]));
    return out;
  }

  /** The known categories of a categorical feature. */
  categories(feature) {
    return this.wasm.categories(feature);
  }
}
