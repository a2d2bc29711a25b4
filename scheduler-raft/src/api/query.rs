//! Query parameters every read endpoint shares (Nomad's `QueryOptions`):
//! blocking queries (`index`, `wait`), `stale`, `prefix`, `namespace`,
//! `filter`, pagination (`per_page`, `next_token`), and the response
//! headers that go with them (`X-Nomad-Index`, `X-Nomad-KnownLeader`,
//! `X-Nomad-LastContact`, `X-Nomad-NextToken`).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::filter::Filter;

/// The longest a blocking query waits (Nomad's cap).
const MAX_WAIT: Duration = Duration::from_secs(600);
/// A blocking query's wait when `wait` is not given (Nomad's default).
const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// The parsed query string.
#[derive(Debug, Default)]
pub struct Query {
    /// Every parameter, last value wins (names as given).
    params: BTreeMap<String, String>,
}

impl Query {
    /// Parses a raw query string (`a=1&b&c=x%20y`).
    pub fn parse(raw: Option<&str>) -> Query {
        let params = raw
            .map(|raw| {
                form_urlencoded::parse(raw.as_bytes())
                    .map(|(key, value)| (key.into_owned(), value.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { params }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A parameter's value, or "".
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A boolean parameter: present without a value, or `true`/`false` in
    /// any case (`?purge=TRUE`), or `1`/`0`.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(value) => parse_bool(value).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "query parameter {name:?}: {value:?} is not a boolean (true or false)"
                ))
            }),
        }
    }

    /// An unsigned integer parameter.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .map(|value| {
                value.parse().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "query parameter {name:?}: {value:?} is not a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    /// The namespace asked for (`default` when absent; `*` means all).
    pub fn namespace(&self) -> &str {
        match self.text("namespace") {
            "" => "default",
            namespace => namespace,
        }
    }

    /// Whether `namespace` is selected by `?namespace=`.
    pub fn selects_namespace(&self, namespace: &str) -> bool {
        let wanted = self.namespace();
        wanted == "*" || wanted == namespace
    }

    /// The blocking part: `(index, wait)` when `index` is given.
    pub fn blocking(&self) -> Result<Option<(u64, Duration)>, ApiError> {
        let Some(index) = self.number("index")? else {
            return Ok(None);
        };
        let wait = match self.get("wait").filter(|w| !w.is_empty()) {
            None => DEFAULT_WAIT,
            Some(text) => parse_wait(text).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "query parameter \"wait\": {text:?} is not a duration (such as 10s or 5m)"
                ))
            })?,
        };
        Ok(Some((index, wait.min(MAX_WAIT))))
    }

    /// The `filter` expression, parsed.
    pub fn filter(&self) -> Result<Option<Filter>, ApiError> {
        match self.get("filter").filter(|f| !f.trim().is_empty()) {
            None => Ok(None),
            Some(text) => Filter::parse(text)
                .map(Some)
                .map_err(|err| ApiError::BadRequest(format!("failed to read filter: {err}"))),
        }
    }
}

/// Reads a boolean as Nomad does (Go's `strconv.ParseBool`, any case;
/// an empty value, as in `?stale`, is true).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// A wait: Go's duration syntax (`10s`, `1m30s`) or bare seconds.
fn parse_wait(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let parsed = scheduler_core::model::Duration::parse(text).ok()?;
    u64::try_from(parsed.as_nanos())
        .ok()
        .map(Duration::from_nanos)
}

/// A read's answer: the body plus the index it reflects.
#[derive(Debug)]
pub struct Answer<T> {
    /// The body.
    pub body: T,
    /// The index for `X-Nomad-Index`.
    pub index: u64,
    /// Whether the answering server knows a leader.
    pub known_leader: bool,
    /// `X-Nomad-NextToken` for a paginated list.
    pub next_token: Option<String>,
}

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("x-nomad-index", self.index.max(1).to_string());
        set("x-nomad-knownleader", self.known_leader.to_string());
        set("x-nomad-lastcontact", "0".to_owned());
        if let Some(token) = self.next_token {
            set("x-nomad-nexttoken", token);
        }
        (headers, axum::Json(self.body)).into_response()
    }
}

/// One page of `items` (sorted by `key`) after `next_token`, at most
/// `per_page`; and the next page's token (the first key left out).
pub fn paginate<T>(
    items: Vec<T>,
    query: &Query,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let per_page = query.number("per_page")?.unwrap_or(0);
    let token = query.text("next_token");
    let mut page: Vec<T> = items
        .into_iter()
        .filter(|item| token.is_empty() || key(item).as_str() >= token)
        .collect();
    if per_page == 0 {
        return Ok((page, None));
    }
    let per_page = usize::try_from(per_page).unwrap_or(usize::MAX);
    if page.len() <= per_page {
        return Ok((page, None));
    }
    let rest = page.split_off(per_page);
    Ok((page, rest.first().map(&key)))
}

/// The object with exactly this id, or the only one whose id starts with
/// it (the CLI's short ids): 400 when the prefix is ambiguous, 404 (with
/// Nomad's wording, `not_found`) when nothing matches.
pub fn exact_or_prefix<'a, T>(
    exact: Option<&'a T>,
    all: impl Iterator<Item = &'a T>,
    id_of: impl Fn(&T) -> &str,
    id: &str,
    kind: &str,
    not_found: &str,
) -> Result<&'a T, ApiError> {
    if let Some(found) = exact {
        return Ok(found);
    }
    let mut matches = all.filter(|item| id_of(item).starts_with(id));
    match (matches.next(), matches.next()) {
        (Some(found), None) if !id.is_empty() => Ok(found),
        (Some(_), Some(_)) => Err(ApiError::BadRequest(format!(
            "{kind} id prefix {id:?} matches several {kind}s"
        ))),
        _ => Err(ApiError::NotFound(not_found.to_owned())),
    }
}

/// Keeps the items the `filter` matches (each serialised as the API shows
/// it).
pub fn apply_filter<T: Serialize>(items: Vec<T>, filter: Option<&Filter>) -> Vec<T> {
    let Some(filter) = filter else {
        return items;
    };
    items
        .into_iter()
        .filter(|item| {
            serde_json::to_value(item)
                .map(|value| filter.matches(&value))
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_in_any_case_and_bare() {
        let query = Query::parse(Some("purge=TRUE&stale&force=False&bad=maybe"));
        assert!(query.flag("purge").unwrap());
        assert!(query.flag("stale").unwrap());
        assert!(!query.flag("force").unwrap());
        assert!(!query.flag("absent").unwrap());
        let err = query.flag("bad").unwrap_err();
        assert!(err.to_string().contains("\"bad\""), "{err}");
    }

    #[test]
    fn a_blocking_query_reads_go_durations_and_is_capped() {
        let query = Query::parse(Some("index=42&wait=1m30s"));
        assert_eq!(
            query.blocking().unwrap(),
            Some((42, Duration::from_secs(90)))
        );
        let long = Query::parse(Some("index=1&wait=2h"));
        assert_eq!(long.blocking().unwrap(), Some((1, MAX_WAIT)));
        assert!(Query::parse(Some("index=x")).blocking().is_err());
        assert_eq!(Query::parse(None).blocking().unwrap(), None);
    }

    #[test]
    fn pages_continue_from_the_token() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let query = Query::parse(Some("per_page=2"));
        let (page, next) = paginate(items.clone(), &query, Clone::clone).unwrap();
        assert_eq!(
            (page, next.clone()),
            (vec!["a".into(), "b".into()], Some("c".into()))
        );
        let query = Query::parse(Some(&format!("per_page=2&next_token={}", next.unwrap())));
        let (page, next) = paginate(items.clone(), &query, Clone::clone).unwrap();
        assert_eq!(
            (page, next),
            (vec!["c".into(), "d".into()], Some("e".into()))
        );
        let query = Query::parse(Some("per_page=2&next_token=e"));
        let (page, next) = paginate(items, &query, Clone::clone).unwrap();
        assert_eq!((page, next), (vec!["e".to_string()], None));
    }
}
