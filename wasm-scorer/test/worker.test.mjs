// The edge-worker example, driven with real Request objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import worker from '../examples/worker.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const fixtures = here('../../crates/churn-core/tests/fixtures/');
const env = {
  MODEL: readFileSync(`${fixtures}model-v1.bin`),
  WASM: new WebAssembly.Module(readFileSync(here('../pkg/web/churn_wasm_scorer_bg.wasm'))),
};
const golden = JSON.parse(readFileSync(`${fixtures}golden-v1.json`, 'utf8'));

const post = (body) => new Request('https://edge.example/score', { method: 'POST', body });

test('the worker scores a POSTed record exactly as the native scorer', async () => {
  for (const record of golden.records.slice(0, 5)) {
    const response = await worker.fetch(post(JSON.stringify(record.values)), env);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    const body = await response.json();
    assert.equal(body.probability, record.probability);
    assert.equal(body.tier, record.tier);
    assert.deepEqual(body.reasons.map((r) => r.feature), record.reasons);
  }
});

test('the worker answers bad requests with 4xx and a reason', async () => {
  const get = await worker.fetch(new Request('https://edge.example/score'), env);
  assert.equal(get.status, 405);
  const notJson = await worker.fetch(post('{oops'), env);
  assert.equal(notJson.status, 400);
  assert.match((await notJson.json()).error, /not JSON/);
  const numeric = Object.keys(golden.records[0].values).find((k) => typeof golden.records[0].values[k] === 'number');
  const wrongType = await worker.fetch(post(JSON.stringify({ ...golden.records[0].values, [numeric]: 'lots' })), env);
  assert.equal(wrongType.status, 400);
  assert.match((await wrongType.json()).error, /expects a number/);
});
