//! The HTTP client every CRM and messaging adapter shares: a per-provider rate limit
//! (a token bucket), and retries with exponential backoff and full jitter on timeouts,
//! connection failures, 429 and 5xx, honouring `Retry-After`. Each adapter says which
//! other answers mean "slow down" (Salesforce's `403 REQUEST_LIMIT_EXCEEDED`).
//!
//! Written here rather than taken from a middleware crate because the retry decision
//! needs the response body (Salesforce) and per-record partial failures are retried by
//! the dispatcher, not by resending whole batches.
//!
//! Errors never carry request headers or bodies, so tokens cannot leak into messages or
//! logs; response excerpts have every registered secret cut out, including access
//! tokens issued while the process runs ([`HttpClient::redact`]).

use std::sync::{Mutex as SyncMutex, PoisonError};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::IoError;
use crate::secrets::Secret;

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl RateLimit {
    /// HubSpot's private apps: 100 requests per 10 s is `RateLimit::new(100, 10.0)`;
    /// Twilio's long code: one message a second is `RateLimit::new(1, 1.0)`.
    pub fn new(burst: u32, per_second: f64) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            burst,
            per_second: if per_second.is_finite() && per_second > 0.0 {
                per_second
            } else {
                f64::INFINITY
            },
            state: Mutex::new((burst, None)),
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self::new(u32::MAX, f64::INFINITY)
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let (tokens, last) = &mut *state;
        if let Some(last) = last {
            *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second)
                .min(self.burst);
        }
        *last = Some(now);
        if *tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.per_second);
            tokio::time::sleep(wait).await;
            *tokens = 1.0;
            *last = Some(Instant::now());
        }
        *tokens -= 1.0;
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Backoff before the second try; doubled each time, with full jitter.
    pub base: Duration,
    /// Longest single wait (a longer `Retry-After` gives up: the caller retries later).
    pub max_wait: Duration,
    /// Time limit of one request.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(250),
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What an adapter makes of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use it (including partial successes: the caller reads per-record results).
    Done,
    /// Slow down and try again.
    Throttled,
    /// Try again (a server error).
    Retry,
    /// Do not try again.
    Fail,
}

/// The default reading: 2xx done, 429 throttled, 408 and 5xx retried, other 4xx failed.
pub fn default_verdict(status: StatusCode, _body: &[u8]) -> Verdict {
    if status.is_success() {
        Verdict::Done
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Verdict::Throttled
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Verdict::Retry
    } else {
        Verdict::Fail
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON, or an error naming the provider and operation.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &'static str,
        operation: &'static str,
    ) -> Result<T, IoError> {
        serde_json::from_slice(&self.body).map_err(|e| IoError::Http {
            provider,
            operation,
            status: Some(self.status.as_u16()),
            message: format!("the response is not what the API documents: {e}"),
            // A malformed answer may be a proxy's error page: a retry can help.
            retryable: true,
        })
    }

    /// The start of the body as text, for error messages.
    pub fn excerpt(&self) -> String {
        excerpt(&String::from_utf8_lossy(&self.body))
    }
}

/// The first 300 characters of `text`.
fn excerpt(text: &str) -> String {
    let mut excerpt: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        excerpt.push_str("...");
    }
    excerpt
}

/// One provider's client: its rate limit and retry policy around a shared connection
/// pool.
#[derive(Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    provider: &'static str,
    limit: RateLimit,
    retry: RetryPolicy,
    /// Values cut out of error messages (an API that echoes the token back). Behind a
    /// lock because an access token issued mid-run joins them.
    redact: SyncMutex<Vec<Secret>>,
}

/// The connection pool, with rustls and the system's root certificates.
pub fn pool(timeout: Duration) -> Result<reqwest::Client, IoError> {
    // reqwest is built without a crypto provider of its own: use the AWS SDK's
    // (aws-lc-rs), which is linked anyway. Installing twice is harmless.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("churn/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IoError::Http {
            provider: "http",
            operation: "client",
            status: None,
            message: format!("cannot build the HTTP client: {e}"),
            retryable: false,
        })
}

impl HttpClient {
    pub fn new(
        client: reqwest::Client,
        provider: &'static str,
        limit: RateLimit,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            client,
            provider,
            limit,
            retry,
            redact: SyncMutex::new(Vec::new()),
        }
    }

    /// Never lets `secret` into an error message, even when the API echoes it.
    pub fn redacting(self, secret: &Secret) -> Self {
        self.redact(secret);
        self
    }

    /// [`HttpClient::redacting`] on a client in use: for a token issued while it runs.
    pub fn redact(&self, secret: &Secret) {
        if secret.expose().is_empty() {
            return;
        }
        // A panic elsewhere while holding the lock leaves a list that is still valid.
        let mut redact = self.redact.lock().unwrap_or_else(PoisonError::into_inner);
        if !redact.contains(secret) {
            redact.push(secret.clone());
        }
    }

    /// The start of a reply's body with every registered secret cut out (cut before the
    /// body is shortened, so no secret is left half-visible at the end).
    pub fn excerpt(&self, reply: &Reply) -> String {
        excerpt(&self.scrub(&String::from_utf8_lossy(&reply.body)))
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let redact = self.redact.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = text.to_owned();
        for secret in redact.iter() {
            text = text.replace(secret.expose(), "***");
        }
        text
    }

    /// The underlying client, to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Sends the request `build` makes (once per try), waiting for the rate limit
    /// before each, and retrying as `verdict` says. Returns the last response that is
    /// [`Verdict::Done`], or an error saying whether a later retry can help.
    pub async fn send(
        &self,
        operation: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        verdict: impl Fn(StatusCode, &[u8]) -> Verdict,
    ) -> Result<Reply, IoError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limit.acquire().await;
            let outcome = match build(&self.client).timeout(self.retry.timeout).send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) => Ok(Reply {
                            status,
                            headers,
                            body: body.to_vec(),
                        }),
                        Err(e) => Err(transport(&e)),
                    }
                }
                Err(e) => Err(transport(&e)),
            };
            let (wait_hint, failure) = match outcome {
                Ok(reply) => match verdict(reply.status, &reply.body) {
                    Verdict::Done => return Ok(reply),
                    Verdict::Fail => {
                        return Err(self.failure(operation, &reply, false));
                    }
                    Verdict::Throttled | Verdict::Retry => (
                        retry_after(&reply.headers),
                        self.failure(operation, &reply, true),
                    ),
                },
                Err(message) => (
                    None,
                    IoError::Http {
                        provider: self.provider,
                        operation,
                        status: None,
                        message,
                        retryable: true,
                    },
                ),
            };
            if attempt >= self.retry.attempts {
                return Err(failure);
            }
            let wait = match wait_hint {
                Some(wait) if wait > self.retry.max_wait => return Err(failure),
                Some(wait) => wait,
                None => self.backoff(attempt),
            };
            tracing::warn!(
                provider = self.provider,
                operation,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %failure,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Full jitter: a uniform wait in `[0, min(max, base × 2^(attempt-1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .retry
            .base
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.retry.max_wait);
        ceiling.mul_f64(fastrand::f64())
    }

    fn failure(&self, operation: &'static str, reply: &Reply, retryable: bool) -> IoError {
        IoError::Http {
            provider: self.provider,
            operation,
            status: Some(reply.status.as_u16()),
            message: self.excerpt(reply),
            retryable,
        }
    }
}

/// A transport error without the URL's query (where some APIs put keys).
fn transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the response broke off"
    } else {
        "the request failed"
    };
    let url = error
        .url()
        .map(|url| format!(" ({}{})", url.origin().ascii_serialization(), url.path()))
        .unwrap_or_default();
    format!("{kind}{url}")
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let then = parse_http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(Duration::from_secs(then.saturating_sub(now).max(0) as u64))
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// form RFC 9110 requires senders to use.
fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let date = format!("{year}-{month:02}-{:0>2}", day);
    let day = churn_core::playbook::Day::parse(&date)?;
    let mut clock = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    Some(i64::from(day.0) * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_after_in_both_forms() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        headers.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        headers.insert("retry-after", "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_bucket_allows_a_burst_then_paces() {
        let limit = RateLimit::new(5, 2.0);
        let start = Instant::now();
        for _ in 0..5 {
            limit.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..4 {
            limit.acquire().await;
        }
        // Four more at two a second: two seconds of (paused, exact) time.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
