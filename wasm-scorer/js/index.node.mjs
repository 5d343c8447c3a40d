// Node.js entry point: `import { load } from 'churn-scorer'` (synchronous).
import wasm from './node/churn_wasm_scorer.js';
import { ChurnScorer } from './record.mjs';

export { ChurnScorer };

/** Loads a binary model artifact (`model.bin`). */
export function load(artifact) {
  return new ChurnScorer(new wasm.WasmScorer(toBytes(artifact)));
}

/** The newest artifact format version this package reads. */
export function artifactVersion() {
  return wasm.WasmScorer.artifactVersion();
}

function toBytes(artifact) {
  if (artifact instanceof Uint8Array) return artifact;
  if (artifact instanceof ArrayBuffer) return new Uint8Array(artifact);
  throw new Error('load takes the bytes of model.bin (a Uint8Array or ArrayBuffer)');
}
