#!/usr/bin/env bash
# Builds every Lambda function into a deployable zip with cargo-lambda (arm64,
# provided.al2023, the lambda-release profile), prints each zip's size beside its budget
# and fails above it; then builds the same functions for this machine and measures each
# bootstrap's init time (bench/src/bin/lambda-init.rs). Usage: ./scripts/lambda.sh
#
# Cold, on 2 cores, this is a release build of polars and the AWS SDK twice (arm64 and
# x86_64): expect 30 to 40 minutes; warm, a few. Not part of scripts/test.sh for that
# reason. Needs cargo-lambda (pip install cargo-lambda, which brings zig).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/churn-target}"
if ! command -v cargo-lambda >/dev/null; then
  [ -x .venv-tools/bin/cargo-lambda ] || {
    python3 -m venv .venv-tools
    .venv-tools/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
  }
  export PATH="$PWD/.venv-tools/bin:$PATH"
fi

functions=(churn-ingest churn-train churn-batch-predict churn-crm-push churn-monitor churn-score-api)
zips="$CARGO_TARGET_DIR/lambda-zips"
# Two cargo invocations: built together, feature unification would give the scoring API
# churn-app's `pipeline` feature, and polars with it.
build() {
  cargo lambda build --profile lambda-release "$@" -p churn-ingest -p churn-train -p churn-batch-predict -p churn-crm-push -p churn-monitor
  cargo lambda build --profile lambda-release "$@" -p churn-score-api
}

echo "== arm64 zips (what infra/template.yaml deploys)"
build --arm64 --output-format zip --lambda-dir "$zips/arm64"
over=0
for f in "${functions[@]}"; do
  budget=$((15 * 1000 * 1000))
  [ "$f" = churn-score-api ] && budget=$((5 * 1000 * 1000))
  size=$(wc -c < "$zips/arm64/$f/bootstrap.zip")
  awk -v f="$f" -v s="$size" -v b="$budget" 'BEGIN { printf "  %-22s %6.1f MB zip (budget %4.1f MB; a Python Lambda with pandas, scikit-learn and LightGBM: 225-390 MB)\n", f, s / 1e6, b / 1e6 }'
  [ "$size" -le "$budget" ] || { echo "error: $f is over its size budget" >&2; over=1; }
done

echo "== init time (x86_64 bootstraps of the same code, on this machine)"
build --compiler cargo --lambda-dir "$zips/x86_64"
bootstraps=()
for f in "${functions[@]}"; do bootstraps+=(--bootstrap "$f=$zips/x86_64/$f/bootstrap"); done
cargo run --release --locked -q -p churn-bench --bin lambda-init -- "${bootstraps[@]}" --event events/healthz.json
exit "$over"
