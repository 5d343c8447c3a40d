#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs every
# gate CI runs. Usage: ./scripts/test.sh
#
# Build products go to $CARGO_TARGET_DIR, by default a cache outside the clone
# (~/.cache/churn-target), so a fresh clone reuses earlier builds. Cold, on 2 cores, the
# whole run takes about 15 minutes; warm, a few.
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

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "churn-core builds for wasm32-unknown-unknown"
cargo check -p churn-core --target wasm32-unknown-unknown --locked

step "tests"
cargo test --workspace --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "all gates passed"
