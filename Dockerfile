# syntax=docker/dockerfile:1
# `churn serve` in a container: the scoring API and the dashboard on a mounted data
# directory. Build from the repository root:
#
#   docker build -t churn .
#   docker run -p 8080:8080 -v "$PWD/churn-demo:/data:ro" -e CHURN_API_TOKEN="$(openssl rand -hex 32)" churn
#
# The container listens on 0.0.0.0, so it needs a token (CHURN_API_TOKEN, or a mounted
# file named by CHURN_API_TOKEN_FILE); /healthz answers without one.

# ---- build: the CLI, and the WASM scorer package the dashboard's what-if panel runs ----
FROM rust:1.95-slim-bookworm AS build
# nodejs and npm bring binaryen's wasm-opt (wasm-scorer/package.json) for the package build.
# Not pinned (DL3008): Debian replaces a stable release's package versions with its fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN rustup target add wasm32-unknown-unknown \
 && version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock) \
 && cargo install --quiet wasm-bindgen-cli --version "=$version"
WORKDIR /src/wasm-scorer
RUN npm ci --no-audit --no-fund --loglevel=error && ./build.sh
WORKDIR /src
RUN cargo build --release --locked -p churn-cli \
 && cp target/release/churn /usr/local/bin/churn

# ---- run: the binary, the scorer package, nothing else ----
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home churn
COPY --from=build /usr/local/bin/churn /usr/local/bin/churn
COPY --from=build /src/wasm-scorer/pkg /usr/share/churn/scorer
ENV CHURN_SERVE_ADDR=0.0.0.0:8080 \
    CHURN_SCORER_DIR=/usr/share/churn/scorer
USER 10001
WORKDIR /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD ["churn", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["churn", "serve", "--dir", "/data"]
