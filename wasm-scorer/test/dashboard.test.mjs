// The dashboard (dashboard/, served by `churn serve`) in headless Chromium, as a retention
// team uses it, over a real demo data directory: the overview, the high tier, a search, a
// customer, a what-if edit scored by the WASM scorer (compared bit for bit with the API's
// score of the same record), the CSV export read back, the model's reports, the token
// prompt. Screenshots go to wasm-scorer/test-output/. (It lives here because the web
// tools, playwright-core among them, are installed in wasm-scorer/.)
//
// Needs the `churn` binary: $CHURN_BIN, else the debug build in $CARGO_TARGET_DIR
// (`cargo test` or `cargo build -p churn-cli` writes it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import { chromium } from './serve.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const output = here('../test-output');
const churn = process.env.CHURN_BIN
  ?? join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/churn-target'), 'debug/churn');
const TOKEN = 'dashboard-test-token-0123456789';

const without = (env, ...names) => Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));

/**
 * `churn serve` on a free port; resolves to { url, close }. `scorer: null` serves no
 * scorer package (run from the data directory, where no wasm-scorer/pkg is found).
 */
function serve(dir, { scorer = here('../pkg'), env = {} } = {}) {
  const flags = scorer === null ? [] : ['--scorer-dir', scorer];
  const child = spawn(churn, ['serve', '--addr', '127.0.0.1:0', '--dir', dir, ...flags], {
    cwd: dir,
    env: { ...without(process.env, 'CHURN_API_TOKEN', 'CHURN_API_TOKEN_FILE', 'CHURN_SERVE_ADDR', 'CHURN_SCORER_DIR'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = createInterface({ input: child.stderr });
  const log = [];
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`churn serve exited (${code}): ${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      const url = line.split('listening on ')[1]?.split(/\s/)[0];
      if (url) resolve({ url, close: () => child.kill() });
    });
  });
}

let dir;
let server;
let browser;

before(async () => {
  assert.ok(existsSync(churn), `no churn binary at ${churn}: run \`cargo build -p churn-cli\` or set CHURN_BIN`);
  dir = mkdtempSync(join(tmpdir(), 'churn-dashboard-'));
  execFileSync(churn, ['--quiet', 'demo', '--customers', '1500', '--trials', '1,1,1', '--dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  server = await serve(dir);
  browser = await chromium();
  mkdirSync(output, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const api = async (path, options) => {
  const response = await fetch(`${server.url}${path}`, options);
  assert.ok(response.ok, `${path}: ${response.status}`);
  return response.json();
};

async function open(page, hash, view) {
  await page.goto(`${server.url}/${hash}`);
  await page.waitForSelector(`body[data-view="${view}"] #ready:not([hidden])`, { timeout: 20_000 });
}

test('a retention team works through the dashboard, and the what-if panel scores as the API does', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('requestfailed', (request) => errors.push(`${request.url()}: ${request.failure()?.errorText}`));

  // The overview: the day's figures as the API counts them.
  await open(page, '', 'overview');
  const { overview } = await api('/v1/customers?per_page=1');
  const card = async (label) => page.textContent(`#cards div:has(dt:text-is("${label}")) dd`);
  assert.equal(await card('High risk'), overview.tiers.high.toLocaleString('en'));
  assert.equal(await card('Customers scored'), overview.customers.toLocaleString('en'));
  assert.equal(await page.locator('#top-table tbody tr').count(), 10);
  assert.match(await page.textContent('#model-cards'), /Data drift/);
  const { days } = await api('/v1/actions');
  const actionCard = async (label) => page.textContent(`#action-cards div:has(dt:text-is("${label}")) dd`);
  assert.ok(days.length > 0, 'the demo plans a day of actions');
  assert.equal(await actionCard('Actions planned'), days[0].actions.toLocaleString('en'));
  assert.equal(await actionCard('Actions sent'), '0', 'the demo is a dry run');
  assert.equal(await actionCard('CRM risk syncs'), days[0].crm_syncs.toLocaleString('en'));
  assert.equal(await actionCard('Expected gain of the plan'), Math.round(days[0].expected_gain).toLocaleString('en'));
  await page.screenshot({ path: join(output, 'dashboard-overview.png'), fullPage: true });

  // Every control is labelled.
  const unlabelled = await page.$$eval('input, select', (fields) => fields.filter((f) => f.labels.length === 0).map((f) => f.id));
  assert.deepEqual(unlabelled, []);

  // The ranked list, filtered to the high tier, from the keyboard.
  await page.click('header nav a[data-view="customers"]');
  await page.waitForSelector('body[data-view="customers"] #ready:not([hidden])');
  await page.focus('#tier');
  await page.selectOption('#tier', 'high');
  await page.waitForFunction(() => location.hash.includes('tier=high') && !document.querySelector('#ready').hidden);
  const high = await api('/v1/customers?tier=high&per_page=50');
  assert.ok(high.total > 1, 'the demo has high-risk customers');
  await page.waitForFunction((total) => document.querySelector('#list-status').textContent.startsWith(total.toLocaleString('en')), high.total);
  const tiers = await page.$$eval('#list-table tbody tr td:nth-child(4)', (cells) => cells.map((c) => c.textContent));
  assert.ok(tiers.length > 0 && tiers.every((tier) => tier === 'high'), tiers.join());
  const shownIds = await page.$$eval('#list-table tbody tr', (rows) => rows.map((r) => r.dataset.customer));
  assert.deepEqual(shownIds, high.customers.map((c) => c.customer_id), 'the page shows the API page, in order');
  await page.screenshot({ path: join(output, 'dashboard-high-tier.png'), fullPage: true });

  // Export the filtered list and read it back.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csvPath = join(output, 'dashboard-export.csv');
  await download.saveAs(csvPath);
  const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'rank,customer_id,probability,tier,segment,monthly_charge,reasons');
  assert.equal(lines.length - 1, high.total, 'every high-risk customer, not one page');
  const first = lines[1].split(',');
  assert.equal(first[1], high.customers[0].customer_id);
  assert.equal(Number(first[2]), high.customers[0].probability);

  // Search a customer and open them.
  const wanted = high.customers[1].customer_id;
  await page.fill('#q', wanted);
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#list-table tbody tr')];
    return rows.length >= 1 && rows.every((r) => r.dataset.customer.includes(id));
  }, wanted);
  await page.click(`#list-table a:text-is("${wanted}")`);
  await page.waitForSelector('body[data-view="customer"] #ready:not([hidden])');
  const stored = await api(`/v1/customers/${wanted}`);
  assert.equal(Number(await page.getAttribute('#customer-probability', 'data-probability')), stored.probability);
  assert.equal(await page.textContent('#customer-tier'), stored.tier);
  assert.equal(await page.locator('#customer-reasons li').count(), stored.reasons.length);
  assert.match(await page.textContent('#whatif-engine'), /WASM scorer/);
  assert.equal(Number(await page.getAttribute('#whatif-probability', 'data-probability')), stored.probability,
    'the WASM scorer on scorer.bin gives the stored row the API\'s score');
  const history = await api(`/v1/customers/${wanted}/actions`);
  assert.equal(await page.locator('#customer-history tbody tr').count(), history.actions.length);
  const recommended = history.actions.find((entry) => entry.kind !== 'crm_sync');
  if (recommended) assert.match(await page.textContent('#customer-action'), new RegExp(recommended.action));
  else if (history.actions.length) assert.match(await page.textContent('#customer-action'), /No retention action planned/);

  // What if they were on another contract?
  const current = await page.inputValue('#whatif-contract_type');
  const other = (await page.$$eval('#whatif-contract_type option', (os) => os.map((o) => o.value)))
    .find((value) => value !== '' && value !== current);
  const before = await page.getAttribute('#whatif-probability', 'data-probability');
  const started = Date.now();
  await page.selectOption('#whatif-contract_type', other);
  await page.waitForFunction((old) => document.querySelector('#whatif-probability').dataset.probability !== old, before);
  console.log(`# what-if update seen after ${Date.now() - started} ms (not a benchmark)`);
  const record = await page.evaluate(() => {
    const values = {};
    for (const input of document.querySelector('#whatif').elements) {
      if (input.value === '') values[input.name] = null;
      else if (input.dataset.kind === 'numeric') values[input.name] = Number(input.value);
      else if (input.dataset.kind === 'boolean') values[input.name] = input.value === 'yes';
      else values[input.name] = input.value;
    }
    return values;
  });
  assert.equal(record.contract_type, other);
  const scored = await api('/v1/score', { method: 'POST', body: JSON.stringify({ record }) });
  const shown = Number(await page.getAttribute('#whatif-probability', 'data-probability'));
  assert.equal(shown, scored.probability, 'the page and the API agree bit for bit');
  assert.equal(await page.textContent('#whatif-tier'), scored.tier);
  const fresh = await api(`/v1/customers/${wanted}`, { method: 'POST', body: JSON.stringify({ contract_type: other }) });
  assert.equal(fresh.probability, scored.probability, 'fresh fields over the stored row: the same record');
  assert.match(await page.textContent('#whatif-change'), /points|as stored/);
  await page.screenshot({ path: join(output, 'dashboard-customer.png'), fullPage: true });
  await page.click('#whatif-reset');
  await page.waitForFunction((p) => document.querySelector('#whatif-probability').dataset.probability === String(p), stored.probability);

  // The model and its reports.
  await page.click('header nav a[data-view="model"]');
  await page.waitForSelector('body[data-view="model"] #ready:not([hidden])');
  const model = await api('/v1/model');
  assert.match(await page.textContent('#model-detail'), new RegExp(model.version));
  const evaluation = await page.getAttribute('#model-report', 'srcdoc');
  assert.ok(evaluation && evaluation.includes('<html'), 'the evaluation report is shown');
  const monitoringShown = await page.getAttribute('#monitoring-report', 'srcdoc');
  assert.ok(monitoringShown && monitoringShown.includes('<html'), 'the demo monitors, so its report is shown');
  // Rendered, not just handed over: the reports' inline styles pass the page's policy.
  assert.equal(await page.frameLocator('#model-report').locator('h1').textContent({ timeout: 5_000 }), 'Churn model report');
  assert.match(await page.frameLocator('#monitoring-report').locator('h1').textContent({ timeout: 5_000 }), /^Churn monitoring/);
  await page.screenshot({ path: join(output, 'dashboard-model.png') });

  assert.deepEqual(errors, []);
  await page.close();
});

test('behind a token, the dashboard asks for it and then loads', async () => {
  const guarded = await serve(dir, { env: { CHURN_API_TOKEN: TOKEN } });
  try {
    const page = await browser.newPage();
    await page.goto(`${guarded.url}/`);
    await page.waitForSelector('#token-form:not([hidden])');
    assert.match(await page.textContent('#problem'), /token/);
    await page.fill('#token', 'a-wrong-token-of-enough-length');
    await page.press('#token', 'Enter');
    await page.waitForSelector('#token-form:not([hidden])');
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await page.waitForSelector('body[data-view="overview"] #cards dd');
    assert.equal(await page.textContent('#problem'), '');
    await page.close();
  } finally {
    guarded.close();
  }
});

test('without the scorer package, the what-if panel scores through the API and says so', async () => {
  const plain = await serve(dir, { scorer: null });
  try {
    const page = await browser.newPage();
    const { customers } = await (await fetch(`${plain.url}/v1/customers?per_page=1`)).json();
    await page.goto(`${plain.url}/#/customer/${customers[0].customer_id}`);
    await page.waitForSelector('body[data-view="customer"] #ready:not([hidden])', { timeout: 20_000 });
    assert.match(await page.textContent('#whatif-engine'), /Scored by the API/);
    assert.equal(Number(await page.getAttribute('#whatif-probability', 'data-probability')), customers[0].probability);
    await page.close();
  } finally {
    plain.close();
  }
});

