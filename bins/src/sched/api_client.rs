//! The CLI's side of an agent's Nomad-style `/v1` HTTP API: which agent to
//! talk to, requests with the namespace and blocking-query parameters,
//! errors worded as Nomad's CLI words them, and unique-prefix lookups of
//! ids.
//!
//! Commands are written as `async fn ... -> Outcome` and run with
//! [`run_command`], which owns the (current-thread) runtime and turns a
//! [`Failure`] into its message on stderr and its exit code.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use scheduler_core::model::api::{AllocListStub, JobListStub, NodeListStub};
use scheduler_core::model::{Deployment, Evaluation};

use crate::output::{print_json, say};

/// Where an agent listens when nothing says otherwise (Nomad's default).
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// How long connecting to the agent may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Flags of every command that talks to an agent.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The agent's HTTP address. Defaults to $SCHED_ADDR, then $NOMAD_ADDR,
    /// then http://127.0.0.1:4646.
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// The namespace to work in (`*` lists every namespace). Defaults to
    /// $NOMAD_NAMESPACE, then the agent's default.
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

/// The agent address to use: the flag, else `SCHED_ADDR`, else `NOMAD_ADDR`,
/// else [`DEFAULT_ADDRESS`]. Empty values count as unset; a bare
/// `host:port` gets `http://`, and a trailing `/` is dropped so paths join
/// cleanly.
pub fn resolve_address(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> String {
    let chosen = flag
        .map(str::to_owned)
        .filter(|value| !value.trim().is_empty())
        .or_else(|| env("SCHED_ADDR").filter(|value| !value.trim().is_empty()))
        .or_else(|| env("NOMAD_ADDR").filter(|value| !value.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned());
    let trimmed = chosen.trim().trim_end_matches('/');
    if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    }
}

/// The namespace to send: the flag, else `NOMAD_NAMESPACE`; `None` lets the
/// agent use its default.
pub fn resolve_namespace(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| env("NOMAD_NAMESPACE"))
        .filter(|value| !value.is_empty())
}

/// A command that could not finish: the message for stderr and the exit
/// code.
#[derive(Debug)]
pub struct Failure {
    /// Printed to stderr as is.
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    /// The same failure with another exit code (`job plan` uses 255).
    pub fn with_code(mut self, code: u8) -> Failure {
        self.code = code;
        self
    }
}

/// What a remote command returns: its exit code, or why it failed.
pub type Outcome = Result<u8, Failure>;

/// Words an API error the way Nomad's CLI does: `Error <doing what>: <why>`.
pub trait Context<T> {
    /// `doing` is a gerund phrase: "querying job", "submitting job".
    fn context(self, doing: &str) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, ApiError> {
    fn context(self, doing: &str) -> Result<T, Failure> {
        self.map_err(|err| Failure::new(format!("Error {doing}: {err}")))
    }
}

/// Runs a remote command on a current-thread runtime and turns its outcome
/// into the process exit code, printing a failure's message on stderr.
pub fn run_command(command: impl Future<Output = Outcome>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("Error starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{}", failure.message.trim_end());
            ExitCode::from(failure.code)
        }
    }
}

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// No answer: the agent is down, the address is wrong, or the
    /// connection broke.
    Unreachable {
        /// The request and the underlying reason.
        reason: String,
        /// The address tried, for the hint.
        address: String,
    },
    /// The agent answered with a non-2xx status and a plain-text body.
    Status {
        /// The HTTP status code.
        code: u16,
        /// The body, trimmed.
        body: String,
    },
    /// The answer could not be read.
    Decode(String),
}

impl ApiError {
    /// Whether the agent answered 404 (no such object).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { code: 404, .. })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable { reason, address } => {
                write!(f, "{reason} (is the agent running at {address}?)")
            }
            ApiError::Status { code, body } => {
                write!(f, "Unexpected response code: {code} ({body})")
            }
            ApiError::Decode(reason) => write!(f, "cannot read the agent's answer: {reason}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// An answer with the Raft index it reflects (`X-Nomad-Index`), for the
/// next blocking query.
#[derive(Debug)]
pub struct Indexed<T> {
    /// The decoded body.
    pub value: T,
    /// `X-Nomad-Index`, 0 when absent.
    pub index: u64,
}

/// A client of one agent's HTTP API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    address: String,
    namespace: Option<String>,
}

impl ApiClient {
    /// A client for the agent the flags and environment name.
    pub fn new(args: &ApiArgs) -> Result<ApiClient, Failure> {
        let env = |name: &str| std::env::var(name).ok();
        let address = resolve_address(args.address.as_deref(), env);
        let namespace = resolve_namespace(args.namespace.as_deref(), env);
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|err| Failure::new(format!("Error creating the HTTP client: {err}")))?;
        Ok(ApiClient {
            http,
            address,
            namespace,
        })
    }

    fn request(&self, method: Method, path: &str, query: &[(&str, String)]) -> RequestBuilder {
        let mut params: Vec<(&str, String)> = query.to_vec();
        if let Some(namespace) = &self.namespace {
            params.push(("namespace", namespace.clone()));
        }
        let builder = self.http.request(method, format!("{}{path}", self.address));
        if params.is_empty() {
            builder
        } else {
            builder.query(&params)
        }
    }

    /// Sends a request; a non-2xx answer becomes [`ApiError::Status`].
    async fn send(&self, builder: RequestBuilder) -> Result<Response, ApiError> {
        let response = builder.send().await.map_err(|err| self.unreachable(&err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let body = body.trim();
        Err(ApiError::Status {
            code: status.as_u16(),
            body: if body.is_empty() {
                status.canonical_reason().unwrap_or("").to_owned()
            } else {
                body.to_owned()
            },
        })
    }

    fn unreachable(&self, err: &reqwest::Error) -> ApiError {
        let target = err.url().map(|url| format!("{url}: ")).unwrap_or_default();
        ApiError::Unreachable {
            reason: format!("{target}{}", root_cause(err)),
            address: self.address.clone(),
        }
    }

    async fn decode<T: DeserializeOwned>(response: Response) -> Result<Indexed<T>, ApiError> {
        let index = index_header(&response);
        let bytes = response
            .bytes()
            .await
            .map_err(|err| ApiError::Decode(root_cause(&err)))?;
        // Some writes answer with an empty body; read it as JSON null.
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &bytes
        };
        let value =
            serde_json::from_slice(text).map_err(|err| ApiError::Decode(err.to_string()))?;
        Ok(Indexed { value, index })
    }

    /// `GET path?query`, decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        Ok(self.get_indexed(path, query).await?.value)
    }

    /// `GET path?query`, decoded, with its index.
    pub async fn get_indexed<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Indexed<T>, ApiError> {
        let response = self.send(self.request(Method::GET, path, query)).await?;
        Self::decode(response).await
    }

    /// A blocking query: answers once the object's index passes `index`, or
    /// after `wait`.
    pub async fn get_blocking<T: DeserializeOwned>(
        &self,
        path: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<T>, ApiError> {
        let query = [
            ("index", index.to_string()),
            ("wait", format!("{}s", wait.as_secs().max(1))),
        ];
        self.get_indexed(path, &query).await
    }

    /// `GET path?query` as raw JSON, for `-json`.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ApiError> {
        self.get(path, query).await
    }

    /// `GET path?query` for a read command's `-json` flag: with `json` the
    /// answer is printed as the agent sent it (fields this CLI does not
    /// model included) and `None` returned, as the command is done;
    /// otherwise it is decoded for the command to lay out.
    pub async fn get_or_print_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        json: bool,
        doing: &str,
    ) -> Result<Option<T>, Failure> {
        if json {
            print_json(&self.get_json(path, query).await.context(doing)?);
            return Ok(None);
        }
        self.get(path, query).await.context(doing).map(Some)
    }

    /// `POST path?query` with a JSON body, decoded.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T, ApiError> {
        let response = self
            .send(self.request(Method::POST, path, query).json(body))
            .await?;
        Ok(Self::decode(response).await?.value)
    }

    /// `DELETE path?query`, decoded.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let response = self.send(self.request(Method::DELETE, path, query)).await?;
        Ok(Self::decode(response).await?.value)
    }

    /// `PUT path` with raw bytes (a snapshot), decoded.
    pub async fn put_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ApiError> {
        let response = self
            .send(self.request(Method::PUT, path, &[]).body(body))
            .await?;
        Ok(Self::decode(response).await?.value)
    }

    /// `GET path?query` whose body the caller reads as it arrives (logs,
    /// snapshots).
    pub async fn get_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Response, ApiError> {
        self.send(self.request(Method::GET, path, query)).await
    }

    /// Reads the next piece of a streamed body; `None` at its end.
    pub async fn next_chunk(&self, response: &mut Response) -> Result<Option<Vec<u8>>, ApiError> {
        match response.chunk().await {
            Ok(chunk) => Ok(chunk.map(|bytes| bytes.to_vec())),
            Err(err) => Err(self.unreachable(&err)),
        }
    }
}

fn index_header(response: &Response) -> u64 {
    response
        .headers()
        .get("x-nomad-index")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// The innermost error of a chain ("Connection refused (os error 111)"),
/// which says more than reqwest's "error sending request".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// An object a list endpoint returns, found by id prefix.
pub trait Listed: DeserializeOwned {
    /// The endpoint that lists them all (and takes `?prefix=`).
    const LIST_PATH: &'static str;
    /// What messages call them.
    const NOUN: Noun;
    /// Its id.
    fn id(&self) -> &str;
}

/// `Listed` for an API type whose `id` field is its id, from its list
/// endpoint and its noun (every one of them takes an -s plural).
macro_rules! listed {
    ($type:ty, $list_path:literal, $noun:literal) => {
        impl Listed for $type {
            const LIST_PATH: &'static str = $list_path;
            const NOUN: Noun = Noun::new($noun, concat!($noun, "s"));
            fn id(&self) -> &str {
                self.id.as_str()
            }
        }
    };
}

listed!(JobListStub, "/v1/jobs", "job");
listed!(AllocListStub, "/v1/allocations", "allocation");
listed!(NodeListStub, "/v1/nodes", "node");
listed!(Evaluation, "/v1/evaluations", "evaluation");
listed!(Deployment, "/v1/deployments", "deployment");

/// Which ids a prefix selects.
#[derive(Debug, PartialEq, Eq)]
pub enum PrefixMatch {
    /// None.
    Nothing,
    /// Exactly one, or an exact match among several: its position.
    One(usize),
    /// Several: their positions.
    Several(Vec<usize>),
}

/// Picks the ids `prefix` selects, as Nomad does: an exact match wins,
/// otherwise the prefix must be unique.
pub fn match_prefix<'a>(ids: impl IntoIterator<Item = &'a str>, prefix: &str) -> PrefixMatch {
    let mut matching = Vec::new();
    for (position, id) in ids.into_iter().enumerate() {
        if id == prefix {
            return PrefixMatch::One(position);
        }
        if id.starts_with(prefix) {
            matching.push(position);
        }
    }
    match matching.as_slice() {
        [] => PrefixMatch::Nothing,
        [only] => PrefixMatch::One(*only),
        _ => PrefixMatch::Several(matching),
    }
}

/// What kind of object a prefix lookup looks for, for its messages.
#[derive(Debug, Clone, Copy)]
pub struct Noun {
    /// "job", "allocation", ...
    pub singular: &'static str,
    /// "jobs", "allocations", ...
    pub plural: &'static str,
}

impl Noun {
    /// A noun and its plural.
    pub const fn new(singular: &'static str, plural: &'static str) -> Noun {
        Noun { singular, plural }
    }
}

/// Finds the one object of its list endpoint whose id starts with
/// `prefix`. Several matches fail with their table (`describe` draws it),
/// as Nomad's "Prefix matched multiple ..." does.
pub async fn find_by_prefix<T: Listed>(
    client: &ApiClient,
    prefix: &str,
    describe: impl FnOnce(&[&T]) -> String,
) -> Result<T, Failure> {
    let noun = T::NOUN;
    if prefix.is_empty() {
        return Err(Failure::new(format!(
            "The {} id must not be empty",
            noun.singular
        )));
    }
    let mut listed: Vec<T> = client
        .get(T::LIST_PATH, &[("prefix", prefix.to_owned())])
        .await
        .context(&format!("querying {}", noun.plural))?;
    match match_prefix(listed.iter().map(Listed::id), prefix) {
        PrefixMatch::Nothing => Err(Failure::new(format!(
            "No {}(s) with prefix or id {prefix:?} found",
            noun.singular
        ))),
        PrefixMatch::One(position) => Ok(listed.swap_remove(position)),
        PrefixMatch::Several(positions) => {
            let matches: Vec<&T> = positions.iter().map(|&p| &listed[p]).collect();
            Err(Failure::new(format!(
                "Prefix matched multiple {}\n\n{}",
                noun.plural,
                describe(&matches)
            )))
        }
    }
}

/// `list` and `status` without an id: every object of the list endpoint,
/// as the API's JSON with `-json`, else as the table `format` draws, or
/// `none` when there are none.
pub async fn print_list<T: Listed>(
    client: &ApiClient,
    json: bool,
    doing: &str,
    none: &str,
    format: impl FnOnce(&[&T]) -> String,
) -> Outcome {
    let Some(listed) = client
        .get_or_print_json::<Vec<T>>(T::LIST_PATH, &[], json, doing)
        .await?
    else {
        return Ok(0);
    };
    if listed.is_empty() {
        say!("{none}");
    } else {
        let all: Vec<&T> = listed.iter().collect();
        say!("{}", format(&all));
    }
    Ok(0)
}

/// A path segment with `/`, `?`, `#`, `%` and spaces escaped, for ids and
/// names typed by users.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~:@!$&'()*+,;=".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_address_comes_from_the_flag_then_sched_then_nomad_env() {
        let both = env_of(&[("SCHED_ADDR", "http://s:1"), ("NOMAD_ADDR", "http://n:2")]);
        assert_eq!(resolve_address(Some("http://f:3/"), &both), "http://f:3");
        assert_eq!(resolve_address(None, &both), "http://s:1");
        let nomad = env_of(&[("SCHED_ADDR", ""), ("NOMAD_ADDR", "http://n:2")]);
        assert_eq!(resolve_address(None, &nomad), "http://n:2");
        assert_eq!(resolve_address(None, env_of(&[])), DEFAULT_ADDRESS);
        assert_eq!(
            resolve_address(Some("10.0.0.1:4646"), env_of(&[])),
            "http://10.0.0.1:4646"
        );
    }

    #[test]
    fn the_namespace_comes_from_the_flag_then_the_environment() {
        let env = env_of(&[("NOMAD_NAMESPACE", "prod")]);
        assert_eq!(resolve_namespace(Some("dev"), &env).as_deref(), Some("dev"));
        assert_eq!(resolve_namespace(None, &env).as_deref(), Some("prod"));
        assert_eq!(resolve_namespace(None, env_of(&[])), None);
    }

    #[test]
    fn a_prefix_must_be_unique_unless_it_is_an_exact_id() {
        let ids = ["web", "web-api", "db"];
        assert_eq!(match_prefix(ids, "d"), PrefixMatch::One(2));
        assert_eq!(match_prefix(ids, "web"), PrefixMatch::One(0));
        assert_eq!(match_prefix(ids, "we"), PrefixMatch::Several(vec![0, 1]));
        assert_eq!(match_prefix(ids, "x"), PrefixMatch::Nothing);
    }

    #[test]
    fn errors_read_like_nomads() {
        let status = ApiError::Status {
            code: 500,
            body: "Enforcing job modify index 3: job exists".to_owned(),
        };
        assert_eq!(
            status.to_string(),
            "Unexpected response code: 500 (Enforcing job modify index 3: job exists)"
        );
        let down = ApiError::Unreachable {
            reason: "Connection refused (os error 111)".to_owned(),
            address: "http://127.0.0.1:4646".to_owned(),
        };
        let failure = Err::<(), _>(down).context("querying jobs").unwrap_err();
        assert_eq!(
            failure.message,
            "Error querying jobs: Connection refused (os error 111) \
             (is the agent running at http://127.0.0.1:4646?)"
        );
        assert_eq!(failure.code, 1);
    }

    #[test]
    fn path_segments_escape_what_would_change_the_path() {
        assert_eq!(path_segment("web-1.api"), "web-1.api");
        assert_eq!(path_segment("a/b c?"), "a%2Fb%20c%3F");
    }
}
