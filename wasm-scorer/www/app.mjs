// The demo page: a form of the model's features; every edit rescores in WebAssembly.
import { load } from '../pkg/index.web.mjs';

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? '../../crates/churn-core/tests/fixtures/model-v1.bin';
const exampleUrl = params.get('example') ?? '../../crates/churn-core/tests/fixtures/golden-v1.json';

const scorer = await load(await fetch(modelUrl).then((r) => r.arrayBuffer()));
document.querySelector('#model').textContent = `Model ${scorer.modelId}.`;
const form = document.querySelector('#record');

for (const [index, name] of scorer.featureNames.entries()) {
  const kind = scorer.featureKinds[index];
  const label = document.createElement('label');
  label.htmlFor = name;
  label.textContent = name.replaceAll('_', ' ');
  let input;
  if (kind === 'numeric') {
    input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
  } else {
    input = document.createElement('select');
    const choices = kind === 'boolean' ? ['yes', 'no'] : scorer.categories(name);
    for (const choice of ['', ...choices]) {
      const option = document.createElement('option');
      option.value = choice;
      option.textContent = choice === '' ? '(unknown)' : choice;
      input.append(option);
    }
  }
  input.id = name;
  input.name = name;
  input.dataset.kind = kind;
  form.append(label, input);
}

function record() {
  const values = {};
  for (const input of form.elements) {
    if (input.value === '') continue;
    if (input.dataset.kind === 'numeric') values[input.name] = Number(input.value);
    else if (input.dataset.kind === 'boolean') values[input.name] = input.value === 'yes';
    else values[input.name] = input.value;
  }
  return values;
}

function render() {
  const error = document.querySelector('#error');
  try {
    const { probability, tier, reasons } = scorer.explain(record(), 3);
    const shown = document.querySelector('#probability');
    shown.textContent = `${(100 * probability).toFixed(1)}%`;
    shown.dataset.probability = String(probability);
    shown.className = tier;
    document.querySelector('#tier').textContent = tier;
    document.querySelector('#reasons').replaceChildren(
      ...reasons.map((reason) => {
        const item = document.createElement('li');
        const value = typeof reason.value === 'number' && !Number.isInteger(reason.value) ? reason.value.toFixed(2) : reason.value;
        item.textContent = `${reason.feature.replaceAll('_', ' ')} = ${value ?? 'unknown'}`;
        return item;
      }),
    );
    error.textContent = '';
  } catch (problem) {
    error.textContent = problem.message;
  }
}

// Start from an example customer, so the page opens with a real score.
const example = await fetch(exampleUrl).then((r) => (r.ok ? r.json() : null)).catch(() => null);
const first = example?.records?.[0]?.values ?? {};
for (const input of form.elements) {
  const value = first[input.name];
  if (value === null || value === undefined) continue;
  input.value = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
}
form.addEventListener('input', render);
render();
document.querySelector('#ready').hidden = false;
