//! What `churn serve` adds to the API for people: the dashboard (built into the binary)
//! and the WASM scorer's package (read from a folder), and `churn healthcheck`, the
//! container's probe of `/healthz`.
//!
//! These routes carry no customer data, so they need no token: the dashboard asks for
//! one when the API answers 401.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../../../dashboard/index.html");
const APP: &str = include_str!("../../../dashboard/app.mjs");
const STYLE: &str = include_str!("../../../dashboard/style.css");

/// Scripts from this server only (WebAssembly compiled from them), the reports' inline
/// styles, no framing by other sites.
const POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                      style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The dashboard's routes, and the scorer package's when `scorer_dir` is given.
pub fn routes(scorer_dir: Option<PathBuf>) -> Router {
    let router = Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/dashboard/app.mjs",
            get(|| async { page(APP, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        );
    match scorer_dir {
        Some(dir) => router.route("/scorer/{*path}", get(scorer_file).with_state(dir)),
        None => router,
    }
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The content type of a file the scorer package holds; anything else is not served.
fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "mjs" | "js" => Some("text/javascript; charset=utf-8"),
        "wasm" => Some("application/wasm"),
        "json" => Some("application/json"),
        "ts" | "mts" => Some("text/plain; charset=utf-8"),
        _ => None,
    }
}

/// `relative` as a path below the package folder: plain names only, no `..`, no root.
fn below(relative: &str) -> Option<PathBuf> {
    let path = Path::new(relative);
    path.components()
        .all(|part| matches!(part, Component::Normal(_)))
        .then(|| path.to_path_buf())
}

async fn scorer_file(State(dir): State<PathBuf>, UrlPath(relative): UrlPath<String>) -> Response {
    let not_found = |what: String| (StatusCode::NOT_FOUND, what).into_response();
    let Some(path) = below(&relative) else {
        return not_found(format!(
            "/scorer/{relative}: not a file of the scorer package"
        ));
    };
    let Some(kind) = content_type(&path) else {
        return not_found(format!(
            "/scorer/{relative}: not a file of the scorer package"
        ));
    };
    match tokio::fs::read(dir.join(&path)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => not_found(format!(
            "/scorer/{relative}: no such file in {}",
            dir.display()
        )),
        Err(error) => {
            tracing::warn!(file = %dir.join(&path).display(), %error, "reading a scorer file");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("/scorer/{relative}: could not be read"),
            )
                .into_response()
        }
    }
}

/// Exits successfully when `url` (an `http://host:port/path`) answers 200 within the
/// timeout: the probe a container runs, with nothing but the binary itself.
pub fn healthcheck(url: &str, timeout: Duration) -> Result<()> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("{url}: the health check speaks plain http:// only (it probes its own container)");
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("{url}: '{authority}' is not a host:port"))?
        .next()
        .with_context(|| format!("{url}: '{authority}' resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("{url}: nothing answers at {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("{url}: sending the request"))?;
    let mut answer = String::new();
    stream
        .take(64 * 1024)
        .read_to_string(&mut answer)
        .with_context(|| format!("{url}: reading the answer"))?;
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
        bail!("{url}: {status_line}: {body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_below_the_package_are_served() {
        assert_eq!(below("web/a.wasm"), Some(PathBuf::from("web/a.wasm")));
        assert_eq!(below("../secret.mjs"), None);
        assert_eq!(below("web/../../x.js"), None);
        assert_eq!(below("/etc/passwd"), None);
        assert_eq!(
            content_type(Path::new("index.web.mjs")),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            content_type(Path::new("web/x.wasm")),
            Some("application/wasm")
        );
        assert_eq!(content_type(Path::new("README.md")), None);
    }

    #[test]
    fn the_health_check_names_what_failed() {
        let error = healthcheck("https://x:1/healthz", Duration::from_secs(1)).expect_err("https");
        assert!(error.to_string().contains("plain http://"), "{error}");
        // A port nothing listens on: bind one, then drop it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let error = healthcheck(
            &format!("http://127.0.0.1:{port}/healthz"),
            Duration::from_secs(1),
        )
        .expect_err("closed");
        assert!(error.to_string().contains("nothing answers"), "{error}");
    }
}
