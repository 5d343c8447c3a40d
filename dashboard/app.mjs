// The retention team's dashboard: the day's overview, the ranked list, one customer with
// a what-if panel scored in the page by the WASM scorer on the champion's scorer.bin, and
// the model's reports. Everything comes from the scoring API of the same origin
// (`churn serve`); nothing is loaded from elsewhere, so it works offline.

const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = 'churn-api-token';
const state = { token: sessionStorage.getItem(TOKEN_KEY), model: null, overview: null, scorer: null, scorerTag: null };

class NeedsToken extends Error {}

/** A request to the API, with the token when there is one. */
async function api(path, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    $('#token-form').hidden = false;
    throw new NeedsToken('This server needs its API token.');
  }
  return response;
}

/** The JSON answer of a request; an error answer throws its message. */
async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error ?? `${path} answered HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const percent = (p) => `${(100 * p).toFixed(1)}%`;
const money = (x) => (x === null || x === undefined ? '' : x.toLocaleString('en', { maximumFractionDigits: 0 }));
const words = (name) => name.replaceAll('_', ' ');

function element(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(properties)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function cards(target, entries) {
  target.replaceChildren(
    ...entries.filter(([, value]) => value !== null && value !== undefined)
      .map(([label, value]) => element('div', {}, element('dt', { textContent: label }), element('dd', { textContent: String(value) }))),
  );
}

function customerTable(table, customers) {
  const head = element('tr', {},
    ...['Rank', 'Customer', 'Probability', 'Tier', 'Segment', 'Monthly charge', 'Top reasons'].map((name, index) =>
      element('th', { scope: 'col', class: [0, 2, 5].includes(index) ? 'number' : '', textContent: name })));
  const rows = customers.map((customer) => element('tr', { 'data-customer': customer.customer_id },
    element('td', { class: 'number', textContent: String(customer.rank) }),
    element('td', {}, element('a', { href: `#/customer/${encodeURIComponent(customer.customer_id)}`, textContent: customer.customer_id })),
    element('td', { class: 'number', textContent: percent(customer.probability) }),
    element('td', { class: `tier-${customer.tier}`, textContent: customer.tier }),
    element('td', { textContent: customer.segment ?? '' }),
    element('td', { class: 'number', textContent: money(customer.monthly_charge) }),
    element('td', { textContent: customer.reasons.join('; ') })));
  table.replaceChildren(element('thead', {}, head), element('tbody', {}, ...rows));
}

async function loadModel() {
  state.model = await json('/v1/model');
  $('#champion').textContent = `Champion ${state.model.version} · ${state.model.family} · churn within ${state.model.horizon_days ?? '?'} days`;
}

/** `path`'s JSON, or null when it is not there yet (404) or not served by this host (503). */
async function optional(path) {
  try {
    return await json(path);
  } catch (error) {
    if (error.status === 404 || error.status === 503) return null;
    throw error;
  }
}

const METRIC_NAMES = { roc_auc: 'ROC-AUC', pr_auc: 'PR-AUC', log_loss: 'Log loss', brier: 'Brier score' };

// ---- overview --------------------------------------------------------------------

async function showOverview() {
  const [page, report, actions] = await Promise.all([
    json('/v1/customers?per_page=10'), optional('/v1/monitoring'), optional('/v1/actions')]);
  const o = page.overview;
  state.overview = o;
  cards($('#cards'), [
    ['Prediction day', o.day],
    ['Customers scored', o.customers.toLocaleString('en')],
    ['High risk', o.tiers.high.toLocaleString('en')],
    ['Medium risk', o.tiers.medium.toLocaleString('en')],
    ['Low risk', o.tiers.low.toLocaleString('en')],
    ['Expected monthly revenue at risk', money(o.expected_monthly_revenue_at_risk)],
    ['Monthly revenue of the high tier', money(o.high_tier_monthly_revenue)],
  ]);
  const day = actions?.days?.[0] ?? null;
  const sent = day ? (day.statuses.sent ?? 0) : 0;
  cards($('#action-cards'), day ? [
    ['Action day', day.day],
    ['Actions planned', day.actions.toLocaleString('en')],
    ['Actions sent', sent.toLocaleString('en')],
    ['CRM risk syncs', day.crm_syncs.toLocaleString('en')],
    ['Expected gain of the plan', money(day.expected_gain)],
    ['Cost of the plan', money(day.cost)],
  ] : [['Actions', actions ? 'none planned yet (run `churn actions`)' : 'not served by this host']]);
  const m = state.model;
  const latest = report?.accuracy?.findLast((day) => day.realised) ?? null;
  const estimated = report?.accuracy?.at(-1) ?? null;
  cards($('#model-cards'), [
    ['Model version', m.version],
    [`${METRIC_NAMES[m.metric.name] ?? m.metric.name} at training`, m.metric.value.toFixed(3)],
    ['Realised ROC-AUC', latest?.realised?.roc_auc != null ? `${latest.realised.roc_auc.toFixed(3)} (${latest.date})` : (report ? 'labels not matured yet' : null)],
    ['Estimated ROC-AUC', estimated?.estimated?.roc_auc != null ? `${estimated.estimated.roc_auc.toFixed(3)} (${estimated.date})` : null],
    ['Data drift', report ? `${report.findings.drift}${report.findings.drifted_features.length ? `: ${report.findings.drifted_features.slice(0, 3).map(words).join(', ')}` : ''}` : 'not monitored yet'],
  ]);
  customerTable($('#top-table'), page.customers);
}

// ---- the ranked list -------------------------------------------------------------

const FILTERS = ['tier', 'segment', 'q', 'sort', 'per_page'];

function listParams() {
  const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
  for (const name of FILTERS) {
    const field = $(`#${name}`);
    const value = query.get(name);
    if (value !== null) field.value = value;
    else if (field.tagName === 'SELECT') field.selectedIndex = name === 'per_page' ? 1 : 0;
    else field.value = '';
  }
  return query;
}

function filterQuery(page = 1) {
  const query = new URLSearchParams();
  for (const name of FILTERS) {
    const value = $(`#${name}`).value.trim();
    if (value !== '') query.set(name, value);
  }
  if (page > 1) query.set('page', String(page));
  return query;
}

async function segments() {
  if (!state.overview) state.overview = (await json('/v1/customers?per_page=1')).overview;
  const select = $('#segment');
  if (select.options.length > 1) return;
  for (const [value, count] of Object.entries(state.overview.segments ?? {})) {
    select.append(element('option', { value, textContent: `${value} (${count.toLocaleString('en')})` }));
  }
}

async function showCustomers() {
  await segments();
  const query = listParams();
  const page = await json(`/v1/customers?${query}`);
  $('#list-status').textContent = `${page.total.toLocaleString('en')} customers match, ${page.day}`;
  customerTable($('#list-table'), page.customers);
  $('#page-of').textContent = page.pages ? `page ${page.page} of ${page.pages}` : 'no page';
  $('#previous').disabled = page.page <= 1;
  $('#next').disabled = page.page >= page.pages;
  $('#previous').onclick = () => { location.hash = `#/customers?${filterQuery(page.page - 1)}`; };
  $('#next').onclick = () => { location.hash = `#/customers?${filterQuery(page.page + 1)}`; };
}

let searchTimer;
$('#filters').addEventListener('input', (event) => {
  clearTimeout(searchTimer);
  const go = () => { location.hash = `#/customers?${filterQuery()}`; };
  if (event.target.id === 'q') searchTimer = setTimeout(go, 250);
  else go();
});
$('#filters').addEventListener('submit', (event) => event.preventDefault());

$('#export').addEventListener('click', () => run(async () => {
  const query = filterQuery();
  query.delete('per_page');
  query.set('format', 'csv');
  const response = await api(`/v1/customers?${query}`);
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error ?? `export answered HTTP ${response.status}`);
  const link = element('a', {
    href: URL.createObjectURL(await response.blob()),
    download: `churn-customers-${state.overview?.day ?? 'today'}${$('#tier').value ? `-${$('#tier').value}` : ''}.csv`,
  });
  document.body.append(link);
  link.click();
  link.remove();
}));

// ---- one customer ----------------------------------------------------------------

/** The champion's scorer in WebAssembly, revalidated against the API's ETag. */
async function scorer() {
  const headers = state.scorerTag ? { 'if-none-match': state.scorerTag } : {};
  const response = await api('/v1/model/scorer.bin', { headers });
  if (response.status === 304 && state.scorer) return state.scorer;
  if (!response.ok) throw new Error(`the champion's scorer.bin answered HTTP ${response.status}`);
  const { load } = await import('/scorer/index.web.mjs');
  state.scorer = await load(await response.arrayBuffer());
  state.scorerTag = response.headers.get('etag');
  return state.scorer;
}

function whatIfForm(model, record) {
  const form = $('#whatif');
  form.replaceChildren();
  for (const [index, name] of model.featureNames.entries()) {
    const kind = model.featureKinds[index];
    let input;
    if (kind === 'numeric') {
      input = element('input', { type: 'number', step: 'any' });
    } else {
      input = element('select');
      const choices = kind === 'boolean' ? ['yes', 'no'] : [...model.categories(name)];
      const stored = record[name];
      if (typeof stored === 'string' && kind !== 'boolean' && !choices.includes(stored)) choices.push(stored);
      for (const choice of ['', ...choices]) input.append(element('option', { value: choice, textContent: choice === '' ? '(unknown)' : choice }));
    }
    input.id = `whatif-${name}`;
    input.name = name;
    input.dataset.kind = kind;
    form.append(element('label', { htmlFor: input.id, textContent: words(name) }), input);
  }
  fill(record);
}

function fill(record) {
  for (const input of $('#whatif').elements) {
    const value = record[input.name];
    input.value = value === null || value === undefined ? '' : typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
    input.dataset.stored = input.value;
    input.classList.remove('changed');
  }
}

/** The record the what-if form holds: empty fields are unknown. */
function whatIfRecord() {
  const values = {};
  for (const input of $('#whatif').elements) {
    if (input.value === '') values[input.name] = null;
    else if (input.dataset.kind === 'numeric') values[input.name] = Number(input.value);
    else if (input.dataset.kind === 'boolean') values[input.name] = input.value === 'yes';
    else values[input.name] = input.value;
  }
  return values;
}

function showScore(prefix, { probability, tier, reasons }) {
  const shown = $(`#${prefix}-probability`);
  shown.textContent = percent(probability);
  shown.dataset.probability = String(probability);
  shown.className = `tier-${tier}`;
  $(`#${prefix}-tier`).textContent = tier;
  $(`#${prefix}-reasons`).replaceChildren(...reasons.map((reason) => element('li', {
    textContent: reason.label ?? `${words(reason.feature)} = ${typeof reason.value === 'number' && !Number.isInteger(reason.value) ? reason.value.toFixed(2) : reason.value ?? 'unknown'}`,
  })));
}

function actionTable(history) {
  const table = $('#customer-history');
  if (history.length === 0) {
    table.replaceChildren(element('caption', { textContent: 'No action was planned for this customer.' }));
    $('#customer-action').textContent = 'None planned: run `churn actions` with a playbook.';
    return;
  }
  // The newest retention action: a CRM sync only copies the risk into the CRM.
  const latest = history.find((entry) => entry.kind !== 'crm_sync');
  if (!latest) {
    $('#customer-action').textContent = 'No retention action planned; the risk is synced to the CRM.';
  } else $('#customer-action').replaceChildren(
    element('p', {}, element('strong', { textContent: latest.action }), ` by ${latest.channel} (${latest.day}): expected gain ${money(latest.expected_gain)} for a cost of ${money(latest.cost)}`),
    element('p', { textContent: latest.why }),
  );
  const head = element('tr', {}, ...['Day', 'Action', 'Channel', 'Expected gain', 'Status'].map((name) => element('th', { scope: 'col', textContent: name })));
  table.replaceChildren(element('thead', {}, head), element('tbody', {}, ...history.map((entry) => element('tr', {},
    element('td', { textContent: entry.day }),
    element('td', { textContent: entry.action }),
    element('td', { textContent: entry.channel }),
    element('td', { class: 'number', textContent: money(entry.expected_gain) }),
    element('td', { textContent: entry.status })))));
}

async function showCustomer(id) {
  $('#customer-title').textContent = `Customer ${id}`;
  const [customer, history] = await Promise.all([
    json(`/v1/customers/${encodeURIComponent(id)}`),
    json(`/v1/customers/${encodeURIComponent(id)}/actions`).catch((error) => {
      if (error instanceof NeedsToken) throw error;
      return { actions: [], unavailable: error.message };
    }),
  ]);
  showScore('customer', customer);
  $('#customer-as-of').textContent = `features as of ${customer.as_of}`;
  actionTable(history.actions);
  if (history.unavailable) $('#customer-action').textContent = history.unavailable;

  let rescore;
  try {
    const model = await scorer();
    whatIfForm(model, customer.record);
    $('#whatif-engine').textContent = `Scored in this page by the WASM scorer on the champion's scorer.bin (${model.modelId}).`;
    rescore = async () => model.explain(whatIfRecord(), 3);
  } catch (error) {
    if (error instanceof NeedsToken) throw error;
    // Without the WASM package (not built), the API scores the edits: the same number, a round trip later.
    $('#whatif-engine').textContent = `Scored by the API (the in-browser scorer is not available: ${error.message}).`;
    fallbackForm(customer.record);
    rescore = () => json(`/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ record: whatIfRecord() }) });
  }
  const update = async () => {
    for (const input of $('#whatif').elements) input.classList.toggle('changed', input.value !== input.dataset.stored);
    try {
      const score = await rescore();
      showScore('whatif', score);
      const delta = 100 * (score.probability - customer.probability);
      $('#whatif-change').textContent = delta === 0 ? 'as stored' : `${delta > 0 ? '+' : ''}${delta.toFixed(1)} points`;
      $('#whatif-error').textContent = '';
    } catch (error) {
      $('#whatif-error').textContent = error.message;
    }
  };
  $('#whatif').oninput = update;
  $('#whatif-reset').onclick = () => { fill(customer.record); update(); };
  await update();
}

function fallbackForm(record) {
  const form = $('#whatif');
  form.replaceChildren();
  for (const [name, value] of Object.entries(record)) {
    const kind = typeof value === 'number' ? 'numeric' : typeof value === 'boolean' ? 'boolean' : 'categorical';
    const input = kind === 'boolean'
      ? element('select', {}, ...['', 'yes', 'no'].map((v) => element('option', { value: v, textContent: v || '(unknown)' })))
      : element('input', { type: kind === 'numeric' ? 'number' : 'text', step: 'any' });
    input.id = `whatif-${name}`;
    input.name = name;
    input.dataset.kind = kind;
    form.append(element('label', { htmlFor: input.id, textContent: words(name) }), input);
  }
  fill(record);
}

// ---- the model -------------------------------------------------------------------

async function report(path, frame, missing) {
  const response = await api(path);
  if (response.ok) {
    frame.srcdoc = await response.text();
    frame.hidden = false;
    if (missing) missing.hidden = true;
  } else {
    frame.hidden = true;
    if (missing) missing.hidden = false;
  }
}

async function showModel() {
  const m = state.model;
  cards($('#model-detail'), [
    ['Version', m.version],
    ['Family', m.family],
    ['Trained at', m.trained_at],
    ['Horizon', m.horizon_days ? `${m.horizon_days} days` : null],
    ['Threshold (high tier from)', `${m.threshold.toFixed(3)} (${m.threshold_rule})`],
    ['Medium tier from', m.tiers.medium.from.toFixed(3)],
    [`${METRIC_NAMES[m.metric.name] ?? m.metric.name} at training`, m.metric.value.toFixed(3)],
    ['Scorer', `${(m.scorer.bytes / 1024).toFixed(1)} KiB`],
  ]);
  await Promise.all([
    report('/v1/reports/model', $('#model-report'), null),
    report('/v1/reports/monitoring', $('#monitoring-report'), $('#monitoring-missing')),
  ]);
}

// ---- routing ---------------------------------------------------------------------

async function run(work) {
  $('#problem').textContent = '';
  try {
    await work();
  } catch (error) {
    $('#problem').textContent = error.message;
  }
}

async function route() {
  const [path] = location.hash.replace(/^#/, '').split('?');
  const [, view = '', id] = path.split('/');
  const name = { '': 'overview', customers: 'customers', customer: 'customer', model: 'model' }[view] ?? 'overview';
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== name;
  for (const link of document.querySelectorAll('header nav a')) {
    if (link.dataset.view === name || (name === 'customer' && link.dataset.view === 'customers')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  await run(async () => {
    if (!state.model) await loadModel();
    if (name === 'overview') await showOverview();
    else if (name === 'customers') await showCustomers();
    else if (name === 'customer') await showCustomer(decodeURIComponent(id ?? ''));
    else await showModel();
  });
  document.body.dataset.view = name;
  $('#ready').hidden = false;
  // For real-user monitoring and wasm-scorer/bench/dashboard.mjs: when the view was ready.
  performance.mark('churn-ready', { detail: name });
}

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('#token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('#token-form').hidden = true;
  route();
});
window.addEventListener('hashchange', () => {
  $('#ready').hidden = true;
  route();
});
route();
