#!/usr/bin/env bash
# Builds the npm package of the scorer into wasm-scorer/pkg/: the wasm module for the
# `web` (ES module) and `nodejs` targets, shrunk by wasm-opt -Oz, with the JavaScript
# wrapper, type declarations, package.json and README. Fails when the gzipped module is
# above the size budget.
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-cli at the exact version of the
# wasm-bindgen crate, and `npm ci` in this folder (binaryen's wasm-opt). scripts/test.sh
# installs them all.
set -euo pipefail
cd "$(dirname "$0")"

BUDGET_GZIP_BYTES=$((60 * 1024))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/churn-target}"

cargo build -p churn-wasm-scorer --target wasm32-unknown-unknown --profile wasm-release --locked
module="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/churn_wasm_scorer.wasm"

rm -rf pkg
mkdir -p pkg
wasm-bindgen --target web --out-dir pkg/web "$module"
wasm-bindgen --target nodejs --out-dir pkg/node "$module"
for target in web node; do
  file="pkg/$target/churn_wasm_scorer_bg.wasm"
  node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$file" -o "$file"
done

raw=$(wc -c < pkg/web/churn_wasm_scorer_bg.wasm)
gzipped=$(gzip -9 -c pkg/web/churn_wasm_scorer_bg.wasm | wc -c)
echo "churn_wasm_scorer_bg.wasm: $raw bytes, $gzipped gzipped (budget $BUDGET_GZIP_BYTES)"
if [ "$gzipped" -gt "$BUDGET_GZIP_BYTES" ]; then
  echo "error: the wasm module is over its size budget ($gzipped > $BUDGET_GZIP_BYTES gzipped bytes)" >&2
  exit 1
fi

cp js/*.mjs js/*.d.mts pkg/
cp README.md pkg/README.md
version=$(sed -n 's/^version = "\(.*\)"/\1/p' ../Cargo.toml | head -n 1)
artifact_version=$(sed -n 's/^pub const ARTIFACT_SCHEMA_VERSION: u32 = \([0-9]*\);/\1/p' ../crates/churn-core/src/artifact.rs)
cat > pkg/package.json <<JSON
{
  "name": "churn-scorer",
  "version": "$version",
  "description": "Churn risk in the browser and at the edge: the churn platform's scorer in WebAssembly (model artifact format v$artifact_version).",
  "license": "Apache-2.0",
  "type": "module",
  "types": "./index.web.d.mts",
  "exports": {
    ".": {
      "node": { "types": "./index.node.d.mts", "default": "./index.node.mjs" },
      "default": { "types": "./index.web.d.mts", "default": "./index.web.mjs" }
    },
    "./web": { "types": "./index.web.d.mts", "default": "./index.web.mjs" },
    "./node": { "types": "./index.node.d.mts", "default": "./index.node.mjs" }
  },
  "files": ["*.mjs", "*.d.mts", "web/", "node/", "README.md"],
  "churn": { "artifactVersion": $artifact_version }
}
JSON
# The nodejs target is CommonJS: mark its folder so the ES-module package can import it.
echo '{ "type": "commonjs" }' > pkg/node/package.json
echo "package written to $(pwd)/pkg"
