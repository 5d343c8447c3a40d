//! `churn serve` as a user runs it: the real binary on a socket, over the demo's data
//! directory, and the same router behind the Lambda adapter answering the same bytes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn churn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churn"));
    command
        .env_remove("CHURN_LOG")
        .env_remove("CHURN_API_TOKEN");
    command
}

/// Starts `churn serve` on a free loopback port and waits until it listens.
fn serve(dir: &std::path::Path, token: Option<&str>) -> Server {
    let mut command = churn();
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("CHURN_API_TOKEN", token);
    }
    let mut child = command.spawn().expect("churn serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("churn serve said where it listens")
            .expect("line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep draining stderr, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

fn demo(dir: &std::path::Path) {
    let output = churn()
        .args(["demo", "--customers", "800", "--trials", "1,1,1", "--dir"])
        .arg(dir)
        .output()
        .expect("demo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("champion of the registry"),
        "the demo promotes its model"
    );
}

/// One request, through the function URL's event shape and the Lambda adapter.
async fn through_lambda(
    app: &axum::Router,
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
) -> (u16, Vec<u8>) {
    let template = include_str!("../../../events/customer.json");
    let mut event: Json = serde_json::from_str(template).expect("event");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    if let Some(body) = body {
        event["body"] = json!(body);
        event["headers"]["content-type"] = json!("application/json");
    }
    let request = lambda_http::request::from_str(&event.to_string()).expect("request");
    let response = churn_score_api::handle(app, request)
        .await
        .expect("infallible");
    let bytes = match response.body() {
        lambda_http::Body::Text(text) => text.as_bytes().to_vec(),
        lambda_http::Body::Binary(bytes) => bytes.clone(),
        lambda_http::Body::Empty => Vec::new(),
        _ => panic!("an unexpected body"),
    };
    (response.status().as_u16(), bytes)
}

/// How many high-risk customers the list holds.
async fn page_total(http: &reqwest::Client, base: &str) -> u64 {
    let page: Json = http
        .get(format!("{base}/v1/customers?tier=high&per_page=1"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    page["total"].as_u64().expect("total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_scores_the_demo_and_answers_as_the_lambda_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_owned();
    tokio::task::spawn_blocking(move || demo(&data))
        .await
        .expect("demo");
    let server = serve(dir.path(), None);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base)).send();

    let health = get("/healthz").await.expect("healthz");
    assert_eq!(health.status(), 200);
    let page: Json = get("/v1/customers?tier=high&per_page=5")
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(page["total"].as_u64().unwrap_or_default() > 0, "{page}");
    let top = &page["customers"][0];
    let id = top["customer_id"].as_str().expect("id").to_owned();
    assert_eq!(top["rank"], 1);
    assert!(
        top["segment"].is_string() && top["monthly_charge"].is_number(),
        "{top}"
    );

    // The stored row scores as batch prediction scored it, bit for bit.
    let customer: Json = get(&format!("/v1/customers/{id}"))
        .await
        .expect("customer")
        .json()
        .await
        .expect("json");
    assert_eq!(customer["probability"], top["probability"], "{customer}");
    assert_eq!(customer["tier"], "high");

    // Fresh fields score exactly as the merged record.
    let fresh = json!({ "contract_type": "two-year" });
    let with_fields: Json = http
        .post(format!("{}/v1/customers/{id}", server.base))
        .json(&fresh)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let mut merged = customer["record"].clone();
    merged["contract_type"] = json!("two-year");
    let as_record: Json = http
        .post(format!("{}/v1/score", server.base))
        .json(&json!({ "record": merged }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(with_fields["probability"], as_record["probability"]);
    assert_ne!(with_fields["probability"], customer["probability"]);

    // What the dashboard reads: its page, the day's actions, the reports, the CSV.
    let page = get("/").await.expect("dashboard");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .expect("policy")
            .contains("script-src 'self'")
    );
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("/dashboard/app.mjs")
    );
    for asset in ["/dashboard/app.mjs", "/dashboard/style.css"] {
        assert_eq!(get(asset).await.expect(asset).status(), 200, "{asset}");
    }
    let missing = get("/scorer/index.web.mjs").await.expect("scorer");
    assert_eq!(missing.status(), 404, "no package given, none served");
    let monitoring: Json = get("/v1/monitoring")
        .await
        .expect("monitoring")
        .json()
        .await
        .expect("json");
    assert!(monitoring["findings"]["drift"].is_string(), "{monitoring}");
    for report in ["/v1/reports/model", "/v1/reports/monitoring"] {
        let response = get(report).await.expect(report);
        assert_eq!(response.status(), 200, "{report}");
        assert!(
            response
                .text()
                .await
                .expect("html")
                .starts_with("<!doctype html>")
        );
    }
    let history: Json = get(&format!("/v1/customers/{id}/actions"))
        .await
        .expect("actions")
        .json()
        .await
        .expect("json");
    let planned = history["actions"].as_array().expect("actions");
    assert!(
        !planned.is_empty(),
        "the demo plans for the top customer: {history}"
    );
    assert_eq!(planned[0]["status"], "planned (not sent)", "{history}");
    // The day's totals count what `churn actions` counted in its plan.json.
    let days: Json = get("/v1/actions")
        .await
        .expect("actions")
        .json()
        .await
        .expect("json");
    let totals = &days["days"][0];
    let plan: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!(
            "actions/dt={}/plan.json",
            totals["day"].as_str().expect("day")
        )))
        .expect("plan.json"),
    )
    .expect("json");
    let summary = &plan["summary"];
    let planned: u64 = summary["planned"]
        .as_object()
        .expect("planned")
        .values()
        .filter_map(Json::as_u64)
        .sum();
    assert_eq!(
        totals["actions"].as_u64(),
        Some(planned),
        "{totals} vs {summary}"
    );
    assert_eq!(totals["crm_syncs"], summary["crm_syncs"], "{totals}");
    let close = |a: &Json, b: &Json| {
        (a.as_f64().expect("number") - b.as_f64().expect("number")).abs() < 1e-6
    };
    assert!(
        close(&totals["cost"], &summary["expected_cost"]),
        "{totals} vs {summary}"
    );
    assert!(
        close(&totals["expected_gain"], &summary["expected_net"]),
        "{totals} vs {summary}"
    );

    let csv = get("/v1/customers?tier=high&format=csv")
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert_eq!(
        csv.lines().count() as u64,
        page_total(&http, &server.base).await + 1,
        "a header and every high-risk customer"
    );

    // A container's probe, against the real server.
    let probe = churn()
        .args(["healthcheck", "--url", &format!("{}/healthz", server.base)])
        .output()
        .expect("healthcheck");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let probe = churn()
        .args([
            "healthcheck",
            "--url",
            &format!("{}/nothing-here", server.base),
        ])
        .output()
        .expect("healthcheck");
    assert!(!probe.status.success());
    assert!(String::from_utf8_lossy(&probe.stderr).contains("404"));

    // The same router behind the Lambda adapter gives the same bytes.
    let lambda = churn_app::api::router(
        churn_app::api::local::LocalBackend::new(dir.path(), Duration::from_secs(60)),
        churn_app::api::ApiOptions::default(),
    )
    .expect("router");
    let customer_path = format!("/v1/customers/{id}");
    let fresh_text = fresh.to_string();
    let actions_path = format!("/v1/customers/{id}/actions");
    for (method, path, query, body) in [
        ("GET", "/healthz", "", None),
        ("GET", "/v1/model", "", None),
        ("GET", "/v1/model/scorer.bin", "", None),
        (
            "GET",
            "/v1/customers",
            "tier=high&sort=charge&per_page=7",
            None,
        ),
        ("GET", customer_path.as_str(), "", None),
        (
            "POST",
            customer_path.as_str(),
            "",
            Some(fresh_text.as_str()),
        ),
        ("POST", "/v1/score", "", Some("{\"record\": ")),
        ("GET", "/v1/customers/NOBODY", "", None),
        ("PUT", "/v1/model", "", None),
        ("GET", "/openapi.json", "", None),
        ("GET", actions_path.as_str(), "", None),
        ("GET", "/v1/actions", "", None),
        ("GET", "/v1/monitoring", "", None),
        ("GET", "/v1/reports/model", "", None),
        ("GET", "/v1/customers", "tier=high&format=csv", None),
    ] {
        let url = if query.is_empty() {
            format!("{}{path}", server.base)
        } else {
            format!("{}{path}?{query}", server.base)
        };
        let mut request = http.request(method.parse().expect("method"), url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("request");
        let served = (
            response.status().as_u16(),
            response.bytes().await.expect("body").to_vec(),
        );
        let from_lambda = through_lambda(&lambda, method, path, query, body).await;
        assert_eq!(
            served,
            from_lambda,
            "{method} {path}?{query}: {}",
            String::from_utf8_lossy(&served.1)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_needs_the_token_and_a_public_address_needs_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An empty directory serves (503s saying why); the token is checked first.
    let token = "a-long-random-token-0123456789";
    let server = serve(dir.path(), Some(token));
    let http = reqwest::Client::new();
    let model = format!("{}/v1/model", server.base);
    let response = http.get(&model).send().await.expect("request");
    assert_eq!(response.status(), 401);
    let response = http
        .get(&model)
        .bearer_auth("not-the-token-0123456789")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    let response = http
        .get(&model)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503, "past the token: no champion yet");
    drop(server);

    let output = churn()
        .args(["serve", "--addr", "0.0.0.0:0", "--dir"])
        .arg(dir.path())
        .output()
        .expect("churn serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");
}
