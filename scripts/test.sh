#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs every
# gate CI runs. Usage: ./scripts/test.sh
#
# Build products go to $CARGO_TARGET_DIR, by default a cache outside the clone
# (~/.cache/churn-target), so a fresh clone reuses earlier builds. Cold, on 2 cores, the
# whole run takes about 15 minutes (plus about 7 the first time wasm-bindgen-cli is
# installed); warm, a few.
#
# Installs when missing: the wasm32 target, wasm-bindgen-cli at the exact version of the
# wasm-bindgen crate in Cargo.lock, the web tools of wasm-scorer/ (npm ci: binaryen's
# wasm-opt, playwright-core), Debian's chromium and chromium-driver, and moto's AWS
# emulator, cfn-lint and hadolint (scripts/tools-requirements.txt, into the project-local
# virtualenv .venv-tools/); it starts the emulator on a free port of 127.0.0.1 for the
# tests in tests/ and stops it at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/churn-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
started=$SECONDS
step() {
  printf '\n== %s (at %ds)\n' "$1" $((SECONDS - started))
}

step "toolchain: $(rustc --version)"
# rust-toolchain.toml pins the stable channel; these are no-ops when already installed.
rustup component add rustfmt clippy >/dev/null
rustup target add wasm32-unknown-unknown >/dev/null

step "tools for the WASM scorer"
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  echo "installing wasm-bindgen-cli $wasm_bindgen_version (a few minutes, once)"
  # Not --locked: one of its locked dependencies cannot be fetched here (../shared/TOOLCHAIN.md).
  cargo install --quiet wasm-bindgen-cli --version "=$wasm_bindgen_version"
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing Debian's chromium and chromium-driver"
  sudo_if_needed=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq chromium chromium-driver >/dev/null
fi
(cd wasm-scorer && npm ci --no-audit --no-fund --loglevel=error)

step "AWS emulator: moto's server"
# Reinstalled only when scripts/tools-requirements.txt changes.
if ! cmp -s scripts/tools-requirements.txt .venv-tools/installed-requirements.txt; then
  python3 -m venv .venv-tools
  .venv-tools/bin/pip install --quiet --disable-pip-version-check -r scripts/tools-requirements.txt
  cp scripts/tools-requirements.txt .venv-tools/installed-requirements.txt
fi
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv-tools/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"${TMPDIR:-/tmp}/churn-moto-$moto_port.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break
  kill -0 "$moto_pid" 2>/dev/null || { echo "error: moto's server did not start" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$moto_port/moto-api/" >/dev/null || { echo "error: moto's server does not answer" >&2; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
echo "moto at $AWS_ENDPOINT_URL"

step "the SAM stack: cfn-lint infra/template.yaml"
.venv-tools/bin/cfn-lint infra/template.yaml

step "the container: hadolint Dockerfile (no Docker engine here to build it)"
.venv-tools/bin/hadolint Dockerfile

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "lint the WASM scorer for wasm32-unknown-unknown"
cargo clippy -p churn-wasm-scorer --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

step "tests"
cargo test --workspace --locked

# wasm-bindgen-test-runner can exit 0 having run nothing (a browser run that never
# started, say): check that every test of the file ran and passed.
wasm_tests() {
  local where=$1 log expected
  shift
  expected=$(grep -c '^#\[wasm_bindgen_test\]' wasm-scorer/tests/golden.rs)
  log=$(env "$@" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p churn-wasm-scorer --target wasm32-unknown-unknown --locked --test golden 2>&1) || {
    echo "$log"
    return 1
  }
  echo "$log" | grep -E '^test |^test result'
  if ! echo "$log" | grep -q "test result: ok. $expected passed; 0 failed"; then
    echo "error: expected $expected wasm tests to pass in $where" >&2
    return 1
  fi
}

step "the real Lambda runtime loop: cargo lambda watch + invoke churn-score-api"
# A champion for the function to load (GET /healthz answers 503 without one): the v2
# fixture artifact in a bucket of its own, registered and promoted as churn-train does.
.venv-tools/bin/python - <<'PYTHON'
import boto3, json
s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
s3.create_bucket(Bucket="churn-watch")
model = json.load(open("crates/churn-core/tests/fixtures/model-v2.json"))["model_id"]
key = f"models/{model}/model.bin"
s3.upload_file("crates/churn-core/tests/fixtures/model-v2.bin", "churn-watch", key)
for table in ["churn-models", "churn-online-features"]:
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
S, N = (lambda v: {"S": v}), (lambda v: {"N": str(v)})
dynamodb.put_item(TableName="churn-models", Item={"pk": S(f"version#{model}"),
    "version": S(model), "trained_at": S("fixture"), "artifact_key": S(key),
    "metric_name": S("roc_auc"), "metric": N(0.8), "holdout": S("fixture"),
    "data_hash": S("fixture"), "seed": N(42)})
dynamodb.put_item(TableName="churn-models", Item={"pk": S("champion"), "version": S(model),
    "metric": N(0.8), "holdout": S("fixture"), "promoted_at": S("fixture")})
PYTHON
watch_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CHURN_BUCKET=churn-watch .venv-tools/bin/cargo-lambda lambda watch --invoke-address 127.0.0.1 \
  --invoke-port "$watch_port" >"${TMPDIR:-/tmp}/churn-watch-$watch_port.log" 2>&1 &
watch_pid=$!
trap 'kill "$moto_pid" "$watch_pid" 2>/dev/null || true' EXIT
answer=""
for _ in $(seq 60); do
  # The first invoke waits for the function's build; until the server is up it fails.
  answer=$(.venv-tools/bin/cargo-lambda lambda invoke churn-score-api --invoke-address 127.0.0.1 \
    --invoke-port "$watch_port" --data-file events/healthz.json 2>&1) && break
  sleep 2
done
echo "$answer"
kill "$watch_pid" 2>/dev/null || true
echo "$answer" | grep -q '"statusCode": *200' && echo "$answer" | grep -q 'blend-fee8d1f2' || {
  echo "error: churn-score-api did not answer GET /healthz with its champion through cargo lambda watch" >&2
  cat "${TMPDIR:-/tmp}/churn-watch-$watch_port.log" >&2
  exit 1
}

step "WASM scorer: golden parity and bad inputs under wasm-bindgen-test in Node.js"
wasm_tests Node.js

step "WASM scorer: the same tests in headless Chromium"
wasm_tests Chromium WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER="$(command -v chromedriver)"

step "WASM scorer: npm package (web and nodejs), size budget"
./wasm-scorer/build.sh

step "WASM scorer: TypeScript declarations type-check a usage file"
(cd wasm-scorer && node_modules/.bin/tsc -p test/tsconfig.json)

step "WASM scorer: node:test on the package, the edge worker, the demo page and the dashboard in Chromium"
# The dashboard's test runs `churn serve` from the debug build the Rust tests made.
log=$(cd wasm-scorer && CHURN_BIN="$CARGO_TARGET_DIR/debug/churn" node --test test/*.test.mjs 2>&1) || {
  echo "$log"
  exit 1
}
echo "$log" | grep -E '^(not )?ok |^# (tests|pass|fail)'
tests=$(echo "$log" | sed -n 's/^# tests //p')
passed=$(echo "$log" | sed -n 's/^# pass //p')
if [ -z "$tests" ] || [ "$tests" = 0 ] || [ "$tests" != "$passed" ]; then
  echo "error: $passed of ${tests:-no} node tests passed" >&2
  exit 1
fi
echo "screenshots: wasm-scorer/test-output/demo-page.png and dashboard-*.png"

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "all gates passed"
