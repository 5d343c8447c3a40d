//! The scoring API under load, and the dashboard's speed, on one machine:
//!
//! 1. a demo data directory of N generated customers (default 140,000, about 100,000 of
//!    them current on the prediction day; kept, so a second run reuses it);
//! 2. `churn serve` (the release build: `cargo build --release -p churn-cli` first) on it, loaded by `wrk` (Debian's
//!    package) on `POST /v1/score` with one full record and on `GET /v1/customers/{id}`
//!    cycling over 1,000 customers, each with its 3 reasons (the default: TreeSHAP) and
//!    without (`reasons=0`): requests per second, p50 and p99 latency;
//! 3. the same two routes on the Python peer a team would deploy instead,
//!    `bench/peers/fastapi_lightgbm.py` (FastAPI on uvicorn with 2 workers, LightGBM
//!    trained on the same training table, its reasons by LightGBM's own TreeSHAP,
//!    `pred_contrib`; its virtualenv, `bench/.venv-api`, is made on the first run from
//!    PyPI), loaded by the same `wrk` in the same run;
//! 4. the dashboard in headless Chromium over the same day
//!    (`wasm-scorer/bench/dashboard.mjs`): first render of the ranked list, what-if update.
//!
//! Goals (issue 15): at least 20,000 scores a second with p99 at most 5 ms on 2 cores;
//! the list's first render at most 1 s and a what-if update at most 16 ms (one frame).
//! The load generator runs on the same 2 cores as the server, for both servers.
//!
//! `cargo build --release -p churn-cli && cargo run --release -p churn-bench --bin api-load [-- --customers 140000 --dir /tmp/api]`

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use serde_json::{Value as Json, json};

#[derive(Debug, Parser)]
struct Args {
    /// Customers to generate (about 70 % are current on the prediction day).
    #[arg(long, default_value_t = 140_000)]
    customers: u64,
    /// The data directory, kept: a second run with the same one reuses its data.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seconds of load per route and server (after 3 s of warm-up).
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Open connections of the load generator.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Threads of the load generator.
    #[arg(long, default_value_t = 1)]
    wrk_threads: u32,
    /// Do not run the Python peer.
    #[arg(long)]
    no_peer: bool,
    /// Do not time the dashboard in Chromium.
    #[arg(long)]
    no_dashboard: bool,
}

const TARGET_RPS: f64 = 20_000.0;
const TARGET_P99_MS: f64 = 5.0;
const PEER: &str = "FastAPI + uvicorn x2 + LightGBM";
/// The peer's uvicorn workers: one per core.
const PEER_WORKERS: u32 = 2;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is in the workspace")
        .to_path_buf()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is not installed: `apt-get install wrk` (Debian's package)"
    );
    let churn = churn_binary()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("churn-api-load-{}", args.customers)));
    prepare(&churn, &dir, args.customers)?;
    let work = tempfile::tempdir()?;

    let (ours, base) = Server::churn(&churn, &dir, true)?;
    let model = get_json(&base, "/v1/model")?;
    let page = get_json(&base, "/v1/customers?per_page=1000")?;
    let total = page["total"].as_u64().unwrap_or_default();
    let ids: Vec<String> = page["customers"]
        .as_array()
        .context("the list's customers")?
        .iter()
        .filter_map(|c| c["customer_id"].as_str().map(str::to_owned))
        .collect();
    ensure!(!ids.is_empty(), "the prediction day has no customers");
    let customer = get_json(&base, &format!("/v1/customers/{}", ids[0]))?;
    let record = customer["record"].clone();
    let scripts = Scripts::write(work.path(), &record, &ids)?;
    println!(
        "churn serve on {}: {total} customers on {}; champion {} ({}, scorer {} bytes); \
         a score answers probability, tier and the top 3 reasons",
        dir.display(),
        page["overview"]["day"].as_str().unwrap_or("?"),
        model["version"].as_str().unwrap_or("?"),
        model["family"].as_str().unwrap_or("?"),
        model["scorer"]["bytes"]
    );
    println!(
        "wrk: {} thread(s), {} connections, {} s per route after 3 s of warm-up, on the same \
         {} cores as the server",
        args.wrk_threads,
        args.connections,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let load = |base: &str, script: &Path, path: &str| {
        wrk(base, script, path, &args, 3)?;
        wrk(base, script, path, &args, args.seconds)
    };
    // Each route with its 3 reasons (the default) and without (`reasons=0`).
    let routes = [
        ("POST /v1/score", &scripts.score, "/v1/score"),
        (
            "POST /v1/score?reasons=0",
            &scripts.score,
            "/v1/score?reasons=0",
        ),
        (
            "GET /v1/customers/{id}",
            &scripts.customers,
            "/v1/customers/",
        ),
        (
            "GET /v1/customers/{id}?reasons=0",
            &scripts.customers_without_reasons,
            "/v1/customers/",
        ),
    ];
    let mut rows = Vec::new();
    for (route, script, path) in routes {
        rows.push((route, "churn serve", load(&base, script, path)?));
    }
    if !args.no_dashboard {
        dashboard(&base)?;
    }
    drop(ours);
    // The default a user gets: an access log line per request on stderr.
    let (logged, logged_base) = Server::churn(&churn, &dir, false)?;
    rows.push((
        "POST /v1/score",
        "churn serve, access log on",
        load(&logged_base, &scripts.score, "/v1/score")?,
    ));
    drop(logged);

    if !args.no_peer {
        let (peer, peer_base) = Server::peer(&dir, &model, &customer, work.path(), &ids[0])?;
        for (at, (route, script, path)) in routes.into_iter().enumerate() {
            let figures = load(&peer_base, script, path)?;
            rows.insert(2 * at + 1, (route, PEER, figures));
        }
        drop(peer);
    }

    println!();
    println!(
        "  {:<34} {:<32} {:>9} {:>9} {:>9} {:>10}",
        "route", "server", "req/s", "p50 ms", "p99 ms", "requests"
    );
    for (route, server, figures) in &rows {
        println!(
            "  {route:<34} {server:<32} {:>9.0} {:>9.2} {:>9.2} {:>10}",
            figures.rps, figures.p50_ms, figures.p99_ms, figures.requests
        );
    }
    println!(
        "  goal: ≥ {TARGET_RPS:.0} scores/s with p99 ≤ {TARGET_P99_MS} ms (churn serve, POST /v1/score)"
    );
    for (route, server, figures) in &rows {
        if *server == "churn serve" && route.starts_with("POST /v1/score") {
            println!(
                "  churn serve {route}: {} ({:.0}/s, p99 {:.2} ms)",
                if figures.rps >= TARGET_RPS && figures.p99_ms <= TARGET_P99_MS {
                    "goal met"
                } else {
                    "goal NOT met"
                },
                figures.rps,
                figures.p99_ms
            );
        }
    }
    Ok(())
}

/// The release build of `churn`, beside this benchmark's own binary. Built beforehand
/// from the same shell (`cargo build --release -p churn-cli`): a cargo run from inside
/// `cargo run` sees other variables, and some build scripts then rebuild polars and the
/// AWS SDK (15 minutes on 2 cores) on each side, every run.
fn churn_binary() -> anyhow::Result<PathBuf> {
    let binary = std::env::current_exe()?
        .parent()
        .context("the benchmark's folder")?
        .join("churn");
    ensure!(
        binary.exists(),
        "no churn binary at {}: build it first with `cargo build --release -p churn-cli`",
        binary.display()
    );
    Ok(binary)
}

/// A demo data directory of `customers`, made unless `dir` already has a champion and a
/// prediction day.
fn prepare(churn: &Path, dir: &Path, customers: u64) -> anyhow::Result<()> {
    if dir.join("registry").is_dir() && dir.join("predictions").is_dir() {
        println!("(reusing the data directory {})", dir.display());
        return Ok(());
    }
    println!(
        "churn demo --customers {customers} --trials 1,1,1 into {} ...",
        dir.display()
    );
    let started = Instant::now();
    let status = Command::new(churn)
        .args(["--quiet", "demo", "--trials", "1,1,1", "--customers"])
        .arg(customers.to_string())
        .arg("--dir")
        .arg(dir)
        .env_remove("CHURN_LOG")
        .stdout(Stdio::null())
        .status()
        .context("running churn demo")?;
    ensure!(status.success(), "churn demo failed");
    println!("  demo: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A server process, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// `churn serve` on a free loopback port; `quiet` turns the access log off.
    fn churn(churn: &Path, dir: &Path, quiet: bool) -> anyhow::Result<(Self, String)> {
        let mut command = Command::new(churn);
        if quiet {
            command.arg("--quiet");
        }
        let scorer = workspace().join("wasm-scorer/pkg");
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .env_remove("CHURN_LOG")
            .env_remove("CHURN_API_TOKEN")
            .env_remove("CHURN_API_TOKEN_FILE")
            .env_remove("CHURN_SERVE_ADDR")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if scorer.join("index.web.mjs").exists() {
            command.arg("--scorer-dir").arg(scorer);
        }
        let mut child = command.spawn().context("starting churn serve")?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let server = Self(child);
        let base = loop {
            let Some(line) = lines.next() else {
                bail!("churn serve stopped before it listened");
            };
            if let Some(rest) = line?.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        // Drained, so the access log never blocks the server on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok((server, base))
    }

    /// The Python peer, trained on the champion's training table, serving the
    /// prediction day's rows.
    fn peer(
        dir: &Path,
        model: &Json,
        customer: &Json,
        work: &Path,
        probe_id: &str,
    ) -> anyhow::Result<(Self, String)> {
        let version = model["version"]
            .as_str()
            .context("the champion's version")?;
        let training: Json = serde_json::from_str(
            &std::fs::read_to_string(
                dir.join("models")
                    .join(version)
                    .join(churn_pipeline::models::TRAINING_FILE),
            )
            .context("the champion's training.json")?,
        )?;
        let table = |folder: PathBuf| {
            let file = folder.join(churn_pipeline::features::TABLE_FILE);
            if file.exists() { file } else { folder }
        };
        let train_table = table(PathBuf::from(
            training["features"]
                .as_str()
                .context("training.json names its features")?,
        ));
        let as_of = customer["as_of"].as_str().context("the row's as_of")?;
        let score_table = table(dir.join(format!("features/as_of={as_of}")));
        let features: Vec<&String> = customer["record"]
            .as_object()
            .context("the record")?
            .keys()
            .collect();
        let features_file = work.join("features.json");
        std::fs::write(&features_file, serde_json::to_string(&features)?)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let python = churn_bench::peer_python(".venv-api", PEER_PACKAGES)?;
        println!(
            "starting the peer (training LightGBM on {}) ...",
            train_table.display()
        );
        let mut child = Command::new(python)
            .arg(workspace().join("bench/peers/fastapi_lightgbm.py"))
            .arg(&train_table)
            .arg(&score_table)
            .arg(&features_file)
            .arg(churn_pipeline::features::catalog::ID_COLUMN)
            .arg(churn_pipeline::features::catalog::LABEL_COLUMN)
            .arg(port.to_string())
            .arg(PEER_WORKERS.to_string())
            .stdout(Stdio::null())
            .spawn()
            .context("starting the peer")?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("the peer stopped ({status}) before it answered");
            }
            if let Ok((200, _)) = get(&base, &format!("/v1/customers/{probe_id}")) {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(600),
                "the peer did not answer within 10 minutes"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        // Both workers up: uvicorn starts them together, give the second its moment.
        std::thread::sleep(Duration::from_secs(3));
        println!(
            "  peer ready after {:.0} s",
            started.elapsed().as_secs_f64()
        );
        Ok((Self(child), base))
    }
}

/// What the peer runs on, pinned.
const PEER_PACKAGES: &[&str] = &[
    "fastapi==0.115.12",
    "uvicorn[standard]==0.34.2",
    "orjson==3.10.18",
    "lightgbm==4.6.0",
    "numpy==2.2.6",
    "pandas==2.2.3",
    "pyarrow==20.0.0",
];

/// The load scripts: one record POSTed, and 1,000 customers cycled through (with their
/// reasons and without).
struct Scripts {
    score: PathBuf,
    customers: PathBuf,
    customers_without_reasons: PathBuf,
}

impl Scripts {
    fn write(work: &Path, record: &Json, ids: &[String]) -> anyhow::Result<Self> {
        let body = work.join("body.json");
        std::fs::write(&body, json!({ "record": record }).to_string())?;
        let id_file = work.join("ids.txt");
        std::fs::write(&id_file, ids.join("\n") + "\n")?;
        let score = work.join("score.lua");
        std::fs::write(
            &score,
            format!(
                "wrk.method = \"POST\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 local file = assert(io.open(\"{}\", \"r\"))\n\
                 wrk.body = file:read(\"*a\")\n\
                 file:close()\n",
                body.display()
            ),
        )?;
        let cycle = |name: &str, query: &str| -> anyhow::Result<PathBuf> {
            let script = work.join(name);
            std::fs::write(
                &script,
                format!(
                    "local ids = {{}}\n\
                     for line in io.lines(\"{}\") do ids[#ids + 1] = line end\n\
                     local i = 0\n\
                     request = function()\n\
                     \x20 i = i + 1\n\
                     \x20 return wrk.format(\"GET\", wrk.path .. ids[(i % #ids) + 1] .. \"{query}\")\n\
                     end\n",
                    id_file.display()
                ),
            )?;
            Ok(script)
        };
        Ok(Self {
            score,
            customers: cycle("customers.lua", "")?,
            customers_without_reasons: cycle("customers-without-reasons.lua", "?reasons=0")?,
        })
    }
}

/// What `wrk` measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
}

fn wrk(
    base: &str,
    script: &Path,
    path: &str,
    args: &Args,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let output = Command::new("wrk")
        .arg(format!("-t{}", args.wrk_threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(format!("{base}{path}"))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed: {}{}",
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
}

fn parse_wrk(text: &str) -> anyhow::Result<Figures> {
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
    {
        bail!("answers that were not 2xx: {}", line.trim());
    }
    if let Some(line) = text.lines().find(|l| l.contains("Socket errors")) {
        bail!("{}", line.trim());
    }
    let value_after = |label: &str| -> Option<&str> {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))?
            .split_whitespace()
            .nth(label.split_whitespace().count())
    };
    let rps: f64 = value_after("Requests/sec:")
        .context("Requests/sec")?
        .parse()?;
    let requests: u64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .context("the request count")?
        .parse()?;
    Ok(Figures {
        rps,
        p50_ms: millis(value_after("50%").context("p50")?)?,
        p99_ms: millis(value_after("99%").context("p99")?)?,
        requests,
    })
}

/// wrk's durations (`812.00us`, `1.20ms`, `1.01s`) in milliseconds.
fn millis(text: &str) -> anyhow::Result<f64> {
    for (unit, scale) in [("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 60e3)] {
        if let Some(number) = text.strip_suffix(unit) {
            return Ok(number.parse::<f64>()? * scale);
        }
    }
    bail!("{text}: not a wrk duration")
}

/// The dashboard's timing in Chromium, by `wasm-scorer/bench/dashboard.mjs`.
fn dashboard(base: &str) -> anyhow::Result<()> {
    let scorer = workspace().join("wasm-scorer");
    if !scorer.join("node_modules/playwright-core").exists() {
        println!(
            "(dashboard timing skipped: run `npm ci` in wasm-scorer/ and wasm-scorer/build.sh)"
        );
        return Ok(());
    }
    let status = Command::new("node")
        .arg("bench/dashboard.mjs")
        .arg(base)
        .current_dir(&scorer)
        .status()
        .context("running node wasm-scorer/bench/dashboard.mjs")?;
    ensure!(status.success(), "the dashboard timing failed");
    Ok(())
}

/// One plain HTTP/1.1 GET: status and body.
fn get(base: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let authority = base.strip_prefix("http://").context("an http:// address")?;
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").context("an HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .context("a status")?
        .parse()?;
    ensure!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{path}: a chunked answer (this client reads whole bodies only)"
    );
    Ok((status, body.to_owned()))
}

fn get_json(base: &str, path: &str) -> anyhow::Result<Json> {
    let (status, body) = get(base, path)?;
    ensure!(status == 200, "GET {path}: {status} {body}");
    Ok(serde_json::from_str(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let report = "Running 15s test @ http://127.0.0.1:1/v1/score\n  1 threads and 64 connections\n  \
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     2.10ms  512.00us  12.00ms   80.00%\n  \
            Latency Distribution\n     50%  812.00us\n     75%    2.00ms\n     90%    3.00ms\n     99%    4.50ms\n  \
            301234 requests in 15.00s, 80.00MB read\nRequests/sec:  20082.27\nTransfer/sec:      5.33MB\n";
        let figures = parse_wrk(report).expect("figures");
        assert_eq!(figures.requests, 301_234);
        assert!((figures.rps - 20_082.27).abs() < 1e-9);
        assert!((figures.p50_ms - 0.812).abs() < 1e-9);
        assert!((figures.p99_ms - 4.5).abs() < 1e-9);
        let failing = format!("{report}  Non-2xx or 3xx responses: 12\n");
        assert!(parse_wrk(&failing).is_err());
        assert!(millis("1.5s").expect("s") == 1500.0);
    }
}
