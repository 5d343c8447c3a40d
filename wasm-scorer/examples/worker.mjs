// An edge worker (Cloudflare Workers / service-worker module shape) that scores the
// customer record POSTed to it, with the web build of the scorer.
//
// Bindings: env.MODEL holds the bytes of model.bin (an ArrayBuffer, e.g. from KV or R2),
// env.WASM the scorer's WebAssembly module (with Wrangler: a CompiledWasm rule for
// churn_wasm_scorer_bg.wasm).
import { load } from '../pkg/index.web.mjs';

let scorer;

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') {
      return json({ error: 'POST a customer record as a JSON object' }, 405);
    }
    let record;
    try {
      record = await request.json();
    } catch {
      return json({ error: 'the body is not JSON' }, 400);
    }
    scorer ??= await load(env.MODEL, { wasm: env.WASM });
    try {
      const { probability, tier, reasons } = scorer.explain(record, 3);
      return json({ model: scorer.modelId, probability, tier, reasons });
    } catch (error) {
      return json({ error: error.message }, 400);
    }
  },
};
