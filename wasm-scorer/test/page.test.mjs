// The demo page in headless Chromium: fill the form, read the risk from the page, and
// compare it with the Node build's score of the same record. Saves a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { load } from '../pkg/index.node.mjs';
import { chromium, serve } from './serve.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const model = readFileSync(here('../../crates/churn-core/tests/fixtures/model-v1.bin'));

test('the demo page updates the risk and its reasons as the form changes', async () => {
  const server = await serve();
  const browser = await chromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/wasm-scorer/www/index.html`);
    await page.waitForSelector('#ready:not([hidden])', { timeout: 20_000 });
    const scorer = load(model);
    const kinds = Object.fromEntries(scorer.featureNames.map((n, i) => [n, scorer.featureKinds[i]]));

    // Fill in a customer, field by field, as a person would.
    const numeric = scorer.featureNames.filter((n) => kinds[n] === 'numeric').slice(0, 3);
    const categorical = scorer.featureNames.find((n) => kinds[n] === 'categorical');
    const before = await page.getAttribute('#probability', 'data-probability');
    await page.fill(`#${numeric[0]}`, '3');
    await page.fill(`#${numeric[1]}`, '0');
    await page.fill(`#${numeric[2]}`, '12.5');
    const category = scorer.categories(categorical)[0];
    await page.selectOption(`#${categorical}`, category);
    await page.waitForFunction((old) => document.querySelector('#probability').dataset.probability !== old, before);

    // The page's record, read back from the form, scored in Node.
    const record = await page.evaluate(() => {
      const values = {};
      for (const input of document.querySelector('#record').elements) {
        if (input.value === '') continue;
        if (input.dataset.kind === 'numeric') values[input.name] = Number(input.value);
        else if (input.dataset.kind === 'boolean') values[input.name] = input.value === 'yes';
        else values[input.name] = input.value;
      }
      return values;
    });
    assert.equal(record[numeric[2]], 12.5);
    const expected = scorer.explain(record, 3);
    const shown = Number(await page.getAttribute('#probability', 'data-probability'));
    assert.equal(shown, expected.probability, 'the browser and Node agree bit for bit');
    assert.equal(await page.textContent('#tier'), expected.tier);
    const reasons = await page.$$eval('#reasons li', (items) => items.map((li) => li.textContent));
    assert.equal(reasons.length, expected.reasons.length);
    assert.ok(reasons[0].startsWith(expected.reasons[0].feature.replaceAll('_', ' ')));

    // Clearing a field makes it unknown, and the page scores again without an error.
    const withValue = await page.getAttribute('#probability', 'data-probability');
    await page.fill(`#${numeric[2]}`, '');
    await page.waitForFunction((old) => document.querySelector('#probability').dataset.probability !== old, withValue);
    assert.equal(await page.textContent('#error'), '');

    mkdirSync(here('../test-output'), { recursive: true });
    await page.screenshot({ path: here('../test-output/demo-page.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('in a Chromium page, the web package scores the golden records bit for bit', async () => {
  const golden = JSON.parse(readFileSync(here('../../crates/churn-core/tests/fixtures/golden-v1.json'), 'utf8'));
  const server = await serve();
  const browser = await chromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/wasm-scorer/www/index.html`);
    const scored = await page.evaluate(async (records) => {
      const { load } = await import('/wasm-scorer/pkg/index.web.mjs');
      const bytes = await fetch('/crates/churn-core/tests/fixtures/model-v1.bin').then((r) => r.arrayBuffer());
      const scorer = await load(bytes);
      return records.map((values) => {
        const { probability, tier, reasons } = scorer.explain(values, 3);
        return { probability, tier, reasons: reasons.map((reason) => reason.feature) };
      });
    }, golden.records.map((record) => record.values));
    assert.equal(scored.length, golden.records.length);
    for (const [index, record] of golden.records.entries()) {
      // Exact equality: the bound reached is 0, not just 1e-12.
      assert.equal(scored[index].probability, record.probability, `record ${index}`);
      assert.equal(scored[index].tier, record.tier, `record ${index}`);
      assert.deepEqual(scored[index].reasons, record.reasons, `record ${index}`);
    }
  } finally {
    await browser.close();
    server.close();
  }
});
