//! Cold-start init time of Lambda bootstraps: how long a function takes from process
//! start to asking the Runtime API for its first event (what Lambda reports as "Init
//! Duration"), and the first invocation's round trip.
//!
//! It serves the Lambda Runtime API itself (the three calls a bootstrap makes:
//! `GET /runtime/invocation/next`, `POST /runtime/invocation/<id>/response` or
//! `/error`) on 127.0.0.1, starts the bootstrap with the environment Lambda gives, and
//! times it. The bootstraps must be built for this machine:
//!
//!   cargo lambda build --profile lambda-release    # x86_64 bootstraps in target/lambda/
//!   cargo run --release -p churn-bench --bin lambda-init -- \
//!     --bootstrap churn-score-api=$CARGO_TARGET_DIR/lambda/churn-score-api/bootstrap \
//!     --event events/healthz.json
//!
//! The first event only needs an answer, not a success: without AWS behind it a
//! handler's error is still a complete invocation. AWS calls go to a closed local port,
//! so a handler that makes them answers after the SDK's retries (about a second).

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Init time of Lambda bootstraps against a local Runtime API")]
struct Args {
    /// NAME=PATH of a bootstrap binary (repeat for several).
    #[arg(long = "bootstrap", required = true)]
    bootstraps: Vec<String>,
    /// The event of the first invocation.
    #[arg(long, default_value = "events/healthz.json")]
    event: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// The budget, in milliseconds.
    #[arg(long, default_value_t = 50.0)]
    budget_ms: f64,
}

/// One HTTP request of the bootstrap: its request line and body.
fn read_request(stream: &mut TcpStream) -> Result<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((line.trim().to_owned(), body))
}

fn respond(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) -> Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    Ok(stream.flush()?)
}

/// Starts the bootstrap once; returns (init, first invocation) durations.
fn cold_start(name: &str, path: &PathBuf, event: &[u8]) -> Result<(Duration, Duration)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let started = Instant::now();
    let mut child = Command::new(path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // A closed port: the first event fails fast instead of reaching AWS.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("CHURN_BUCKET", "churn-bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", path.display()))?;
    let result = (|| {
        let (mut stream, _) = listener.accept()?;
        let (line, _) = read_request(&mut stream)?;
        let init = started.elapsed();
        if !line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            bail!("{name}: expected the first GET of an event, got '{line}'");
        }
        let invoked = Instant::now();
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            + 60_000;
        respond(
            &mut stream,
            "200 OK",
            &format!(
                "content-type: application/json\r\nlambda-runtime-aws-request-id: bench-1\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:{name}\r\n"
            ),
            event,
        )?;
        // The answer may come on the same connection or a new one.
        loop {
            let (line, _) = match read_request(&mut stream) {
                Ok(request) if !request.0.is_empty() => request,
                _ => {
                    stream = listener.accept()?.0;
                    continue;
                }
            };
            if line.contains("/invocation/bench-1/") {
                respond(&mut stream, "202 Accepted", "", b"{}")?;
                return Ok((init, invoked.elapsed()));
            }
            bail!("{name}: unexpected request '{line}'");
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let event = std::fs::read(&args.event).with_context(|| format!("{}", args.event.display()))?;
    println!(
        "Lambda init time, {} cold starts each, against a local Runtime API (budget {} ms; \
         Python's import of pandas + scikit-learn + LightGBM alone: ~1400 ms)",
        args.runs, args.budget_ms
    );
    for spec in &args.bootstraps {
        let Some((name, path)) = spec.split_once('=') else {
            bail!("--bootstrap {spec}: use NAME=PATH");
        };
        let path = PathBuf::from(path);
        let size = std::fs::metadata(&path)
            .with_context(|| format!("{}", path.display()))?
            .len();
        let mut inits = Vec::new();
        let mut firsts = Vec::new();
        for _ in 0..args.runs {
            let (init, first) = cold_start(name, &path, &event)?;
            inits.push(init.as_secs_f64() * 1000.0);
            firsts.push(first.as_secs_f64() * 1000.0);
        }
        let init = median(inits);
        println!(
            "  {name:<22} binary {:>5.1} MB  init {init:>6.1} ms median  {}  (first event answered in {:.1} ms)",
            size as f64 / 1e6,
            if init <= args.budget_ms {
                "within budget"
            } else {
                "OVER BUDGET"
            },
            median(firsts),
        );
    }
    Ok(())
}
