// Type-checked by scripts/test.sh (tsc --noEmit): the declarations describe the package,
// and misuse is a type error.
import { load as loadWeb, type Explanation, type Tier } from '../pkg/index.web.mjs';
import { load as loadNode, artifactVersion } from '../pkg/index.node.mjs';

export async function usage(bytes: Uint8Array): Promise<number> {
  const web = await loadWeb(bytes, { wasm: new URL('../pkg/web/churn_wasm_scorer_bg.wasm', import.meta.url) });
  const node = loadNode(bytes);
  const record = { contract_type: 'month-to-month', tenure_days: 42, paperless_billing: true, avg_satisfaction_90d: null };
  const tier: Tier = web.score(record).tier;
  const explained: Explanation = node.explain(record, 3);
  const names: string[] = explained.reasons.map((reason) => reason.feature);
  const batch: Float64Array = node.scoreBatch(new Float64Array(node.featureNames.length), node.featureNames.length);
  // @ts-expect-error: a record holds numbers, booleans, strings or null
  node.score({ tenure_days: [42] });
  // @ts-expect-error: in Node.js, load is synchronous
  await loadNode(bytes).then(() => 0);
  return names.length + batch.length + artifactVersion() + (tier === 'high' ? 1 : 0) + node.categories('plan').length;
}
