// Browser and edge-worker entry point: `await load(bytes)`.
import init, { WasmScorer } from './web/churn_wasm_scorer.js';
import { ChurnScorer } from './record.mjs';

export { ChurnScorer };

let ready;

/** Loads a binary model artifact (`model.bin`). `options.wasm` may give the module (a
 * URL, a Response, bytes or a compiled WebAssembly.Module) for hosts that cannot fetch
 * it next to this file, such as edge workers. */
export async function load(artifact, options = {}) {
  ready ??= init(options.wasm === undefined ? undefined : { module_or_path: options.wasm });
  await ready;
  const bytes = artifact instanceof Uint8Array ? artifact : new Uint8Array(artifact);
  return new ChurnScorer(new WasmScorer(bytes));
}

/** The newest artifact format version this package reads (after `load`). */
export function artifactVersion() {
  return WasmScorer.artifactVersion();
}
