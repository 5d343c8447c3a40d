//! `churn serve`: the scoring API (the router `churn-score-api` runs on Lambda) on a
//! local data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use churn_app::api::local::LocalBackend;
use churn_app::api::{ApiOptions, MAX_BODY_BYTES, Token};

/// The variable a token may come in (a flag would show it in `ps`).
pub const TOKEN_VARIABLE: &str = "CHURN_API_TOKEN";

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The data directory to serve (its registry's champion, its latest prediction day).
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Address to listen on. Loopback by default; any other address needs a token.
    #[arg(long, default_value = "127.0.0.1:8080", env = "CHURN_SERVE_ADDR")]
    pub addr: SocketAddr,
    /// A file whose first line is the bearer token every request but /healthz must send
    /// (or set CHURN_API_TOKEN).
    #[arg(long, env = "CHURN_API_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// An origin browsers may call the API from (CORS), e.g. `https://app.example.com`;
    /// repeat for more. None by default.
    #[arg(
        long = "cors-origin",
        env = "CHURN_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Seconds between looks for a new champion or prediction day.
    #[arg(long, default_value_t = 60, env = "CHURN_MODEL_REFRESH_SECONDS")]
    pub refresh_seconds: u64,
    /// The largest request body read, in bytes.
    #[arg(long, default_value_t = MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// The WASM scorer's package (`wasm-scorer/build.sh` writes it), served at /scorer/
    /// for the dashboard's what-if panel. Default: wasm-scorer/pkg when it exists; without
    /// it the panel scores through the API.
    #[arg(long, env = "CHURN_SCORER_DIR")]
    pub scorer_dir: Option<PathBuf>,
}

/// Where the package is looked for when --scorer-dir is not given (a checkout's build).
const DEFAULT_SCORER_DIR: &str = "wasm-scorer/pkg";

/// The scorer package to serve: the flag's folder, which must hold the package, or the
/// checkout's build when there is one.
fn scorer_dir(flag: Option<&Path>) -> Result<Option<PathBuf>> {
    let holds_package = |dir: &Path| dir.join("index.web.mjs").is_file();
    match flag {
        Some(dir) if holds_package(dir) => Ok(Some(dir.to_path_buf())),
        Some(dir) => bail!(
            "--scorer-dir {}: no index.web.mjs there; build the package with \
             wasm-scorer/build.sh, or leave the flag out to score what-ifs through the API",
            dir.display()
        ),
        None => Ok(Some(PathBuf::from(DEFAULT_SCORER_DIR)).filter(|dir| holds_package(dir))),
    }
}

/// The token from the file or the environment; both at once is ambiguous.
fn token(args: &ServeArgs, variable: Option<String>) -> Result<Option<Token>> {
    let text = match (&args.token_file, variable) {
        (Some(_), Some(_)) => bail!(
            "both --token-file and {TOKEN_VARIABLE} are set: use one, so it is clear which token is in force"
        ),
        (Some(file), None) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the token file {}", file.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        (None, variable) => variable,
    };
    text.map(|text| Token::new(&text).map_err(anyhow::Error::from))
        .transpose()
}

/// The API's options from the flags, refusing a non-loopback address without a token.
pub fn options(args: &ServeArgs, variable: Option<String>) -> Result<ApiOptions> {
    let token = token(args, variable)?;
    if token.is_none() && !args.addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {} without a token: anyone who can reach it could read \
             every customer's score. Set {TOKEN_VARIABLE} or --token-file, or listen on \
             127.0.0.1",
            args.addr
        );
    }
    if args.max_body_bytes == 0 {
        bail!("--max-body-bytes 0: allow at least 1 byte");
    }
    Ok(ApiOptions {
        token,
        cors_origins: args.cors_origins.clone(),
        max_body_bytes: args.max_body_bytes,
    })
}

pub fn run(args: ServeArgs) -> Result<()> {
    let options = options(&args, std::env::var(TOKEN_VARIABLE).ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        serve(args, options, listener, shutdown_signal()).await
    })
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    args: ServeArgs,
    options: ApiOptions,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if !args.dir.is_dir() {
        bail!(
            "{} is not a directory: point --dir at a data directory (`churn demo` writes one)",
            args.dir.display()
        );
    }
    let backend = LocalBackend::new(&args.dir, Duration::from_secs(args.refresh_seconds));
    // What the first request will need, now: a broken directory shows at start.
    match backend.warm().await {
        Ok(day) => eprintln!(
            "churn serve: {}: {}",
            args.dir.display(),
            day.unwrap_or_else(|| "no prediction day yet (run `churn predict`)".into())
        ),
        Err(error) => eprintln!("churn serve: {}: {error}", args.dir.display()),
    }
    let scorer = scorer_dir(args.scorer_dir.as_deref())?;
    match &scorer {
        Some(dir) => eprintln!("churn serve: the WASM scorer from {}", dir.display()),
        None => eprintln!(
            "churn serve: no WASM scorer package ({DEFAULT_SCORER_DIR} not built): the \
             dashboard's what-if panel scores through the API"
        ),
    }
    let app = churn_app::api::router(backend, options)?.merge(crate::site::routes(scorer));
    let addr = listener.local_addr().context("the listening address")?;
    eprintln!(
        "churn serve: listening on http://{addr} (the dashboard at /, the API described at \
         /openapi.json)"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("churn serve: stopping after the requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(flags: &[&str]) -> ServeArgs {
        let mut argv = vec!["churn"];
        argv.extend_from_slice(flags);
        Wrapper::try_parse_from(argv).expect("flags").serve
    }

    #[test]
    fn a_non_loopback_address_needs_a_token() {
        let error = options(&args(&["--addr", "0.0.0.0:8080"]), None).expect_err("refused");
        assert!(error.to_string().contains("without a token"), "{error}");
        let options = options(
            &args(&["--addr", "0.0.0.0:8080"]),
            Some("a-long-enough-random-token".into()),
        )
        .expect("with a token");
        assert!(options.token.is_some());
    }

    #[test]
    fn the_token_comes_from_one_place() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-the-file-0123456789\nignored\n").expect("write");
        let flags = ["--token-file", file.to_str().expect("utf-8")];
        assert!(options(&args(&flags), None).expect("file").token.is_some());
        let error = options(&args(&flags), Some("x".repeat(20))).expect_err("both");
        assert!(error.to_string().contains("use one"), "{error}");
        let error = options(&args(&[]), Some("short".into())).expect_err("short");
        assert!(
            format!("{error:#}").contains("shorter than 16"),
            "{error:#}"
        );
    }

    #[test]
    fn defaults_are_loopback_no_cors_and_the_api_limits() {
        let parsed = args(&[]);
        assert!(parsed.addr.ip().is_loopback());
        let options = options(&parsed, None).expect("defaults");
        assert!(options.token.is_none() && options.cors_origins.is_empty());
        assert_eq!(options.max_body_bytes, MAX_BODY_BYTES);
        let parsed = args(&["--cors-origin", "https://a.example,https://b.example"]);
        assert_eq!(parsed.cors_origins.len(), 2);
    }
}
