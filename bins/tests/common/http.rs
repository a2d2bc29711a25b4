//! A small client of the agent's HTTP API for the tests: JSON in, JSON
//! (or text) and the `X-Nomad-Index` out, and bounded polling.
// Polling is bounded in time: the clock is read here on purpose.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// A job file's text as an API client sends it (`{"Job": {...}}`);
/// `file` names it in parse errors.
pub fn job_json(source: &str, file: &str) -> Value {
    let job =
        scheduler_core::jobspec::parse(source, &scheduler_core::jobspec::ParseOptions::new(file))
            .unwrap_or_else(|err| panic!("{file}: {err:?}"))
            .job;
    serde_json::to_value(scheduler_core::model::JobWrapper { job }).expect("json")
}

pub struct Api {
    /// The client.
    pub http: reqwest::Client,
    /// `http://host:port`.
    pub base: String,
}

impl Api {
    /// A client of the agent at `base`.
    pub fn new(base: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value, u64) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = response.status();
        let index = response
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body, index)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Polls `path` (bounded: 30 s) until `done` holds for its body.
    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body, _) = self.get(path).await;
            if status.is_success() && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 30 s; last answer {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn running(allocs: &Value) -> usize {
    allocs.as_array().map_or(0, |list| {
        list.iter()
            .filter(|a| a["ClientStatus"] == "running")
            .count()
    })
}
