// The built npm package (both targets) against the golden file, with every bad input.
// Run by scripts/test.sh after build.sh: node --test wasm-scorer/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import * as nodeTarget from '../pkg/index.node.mjs';
import * as webTarget from '../pkg/index.web.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const fixtures = here('../../crates/churn-core/tests/fixtures/');
const model = readFileSync(`${fixtures}model-v1.bin`);
const golden = JSON.parse(readFileSync(`${fixtures}golden-v1.json`, 'utf8'));
const wasmBytes = readFileSync(here('../pkg/web/churn_wasm_scorer_bg.wasm'));

const targets = {
  nodejs: async () => nodeTarget.load(model),
  web: async () => webTarget.load(model, { wasm: wasmBytes }),
};

for (const [name, load] of Object.entries(targets)) {
  test(`${name}: golden probabilities, tiers and reasons are the native ones, bit for bit`, async () => {
    const scorer = await load();
    assert.equal(scorer.modelId, golden.model_id);
    assert.equal((name === 'web' ? webTarget : nodeTarget).artifactVersion(), 2);
    assert.ok(golden.records.length >= 40);
    for (const [index, record] of golden.records.entries()) {
      const score = scorer.score(record.values);
      assert.equal(score.probability, record.probability, `record ${index}`);
      assert.equal(score.tier, record.tier, `record ${index}`);
      const explained = scorer.explain(record.values, 3);
      assert.equal(explained.probability, record.probability);
      assert.deepEqual(explained.reasons.map((r) => r.feature), record.reasons, `record ${index}`);
      const total = explained.base; // base + every contribution = margin (checked natively)
      assert.ok(Number.isFinite(total));
    }
  });

  test(`${name}: bad input throws an Error and the scorer keeps working`, async () => {
    const scorer = await load();
    const good = golden.records[0].values;
    const numeric = scorer.featureNames[scorer.featureKinds.indexOf('numeric')];
    const categorical = scorer.featureNames[scorer.featureKinds.indexOf('categorical')];
    const expectError = (fn, pattern) => assert.throws(fn, (error) => error instanceof Error && pattern.test(error.message));

    expectError(() => scorer.score({ ...good, [numeric]: '12' }), new RegExp(`'${numeric}' expects a number`));
    expectError(() => scorer.score({ ...good, [numeric]: NaN }), /NaN: send null/);
    expectError(() => scorer.score({ ...good, [numeric]: Infinity }), /Infinity: send null/);
    expectError(() => scorer.score({ ...good, [numeric]: { value: 1 } }), /expects a number, got an object/);
    expectError(() => scorer.score(null), /plain object/);
    expectError(() => scorer.score([1, 2]), /plain object/);
    const unknown = scorer.score({ ...good, [categorical]: 'Galactic Plan' });
    assert.ok(unknown.probability >= 0 && unknown.probability <= 1, 'unknown categories are scored');
    const columns = scorer.featureNames.length;
    expectError(() => scorer.scoreBatch(new Float64Array(0), columns), /empty/);
    expectError(() => scorer.scoreBatch(new Float64Array(columns + 1), columns), /not a multiple/);
    expectError(() => scorer.scoreBatch([1, 2, 3], columns), /Float64Array/);
    assert.equal(scorer.score(good).probability, golden.records[0].probability, 'still exact after errors');
  });

  test(`${name}: damaged and newer artifacts are refused with a message`, async () => {
    const loader = name === 'nodejs' ? (bytes) => nodeTarget.load(bytes) : (bytes) => webTarget.load(bytes, { wasm: wasmBytes });
    await assert.rejects(async () => loader(model.subarray(0, model.length / 2)), /damaged/);
    const newer = Uint8Array.from(model);
    newer[4] = 9;
    await assert.rejects(async () => loader(newer), /schema version 9.*upgrade churn/);
  });
}

test('records and batches of numbers give the same probabilities', () => {
  const scorer = nodeTarget.load(model);
  const columns = scorer.featureNames.length;
  const rows = [];
  const expected = [];
  for (const record of golden.records) {
    const values = scorer.featureNames.map((name, i) => {
      const value = record.values[name];
      if (value === null || value === undefined) return NaN;
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (scorer.featureKinds[i] === 'categorical') {
        const index = scorer.categories(name).indexOf(value);
        return index < 0 ? undefined : index;
      }
      return value;
    });
    if (values.includes(undefined)) continue;
    rows.push(...values);
    expected.push(record.probability);
  }
  const probabilities = scorer.scoreBatch(Float64Array.from(rows), columns);
  assert.deepEqual(Array.from(probabilities), expected);
  assert.deepEqual(Array.from(scorer.scoreRecords(golden.records.map((r) => r.values))), golden.records.map((r) => r.probability));
});
