//! `GET /v1/client/fs/logs/:alloc`: a task's stdout or stderr, read from
//! the rotated files the client writes (`alloc/logs/<task>.<type>.<n>`),
//! from the start or the end, optionally following new output across
//! rotations until the allocation stops.
//!
//! `plain=true` streams the bytes; otherwise the body is a stream of
//! Nomad's JSON frames (`{"Data": base64, "File": ..., "Offset": n}`), which
//! Nomad's API clients decode.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::client_endpoints::ClientCtx;
use super::error::ApiError;
use super::query::Query;

/// How much one read takes (one frame).
const CHUNK: usize = 64 * 1024;
/// How often a follower looks for new output.
const POLL: Duration = Duration::from_millis(200);

pub(super) async fn alloc_logs(
    State(ctx): State<ClientCtx>,
    UrlPath(id): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let alloc = ctx.alloc(&id)?;
    let tasks: Vec<String> = alloc
        .job
        .as_ref()
        .and_then(|job| job.lookup_task_group(&alloc.task_group))
        .map(|group| group.tasks.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    let task = match query.text("task") {
        "" if tasks.len() == 1 => tasks[0].clone(),
        "" => return Err(ApiError::BadRequest("must include task name".to_owned())),
        name => name.to_owned(),
    };
    let kind = match query.text("type") {
        "" | "stdout" => "stdout",
        "stderr" => "stderr",
        other => {
            return Err(ApiError::BadRequest(format!(
                "query parameter \"type\": {other:?} is neither stdout nor stderr"
            )));
        }
    };
    let from_end = match query.text("origin") {
        "" | "start" => false,
        "end" => true,
        other => {
            return Err(ApiError::BadRequest(format!(
                "query parameter \"origin\": {other:?} is neither start nor end"
            )));
        }
    };
    let plain = query.flag("plain")?;
    let follow = query.flag("follow")?;
    let offset = query.number("offset")?.unwrap_or(0);
    let dir = ctx
        .client()?
        .alloc_dir(alloc.id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no directory for allocation {}", alloc.id)))?
        .join("alloc")
        .join("logs");
    let prefix = format!("{task}.{kind}.");
    let indexes = log_indexes(&dir, &prefix).await;
    if indexes.is_empty() && !follow {
        return Err(ApiError::NotFound(format!(
            "no {kind} logs of task {task:?} in allocation {}",
            alloc.id
        )));
    }
    let start = start_position(&dir, &prefix, &indexes, from_end, offset).await;
    let reader = LogReader {
        dir,
        prefix,
        file: start.0,
        position: start.1,
        follow,
        plain,
        ctx: ctx.clone(),
        alloc_id: alloc.id.clone(),
        idle_polls: 0,
    };
    let stream = futures_util::stream::unfold(reader, |mut reader| async move {
        reader
            .next_chunk()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), reader))
    });
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The rotation indexes present, ascending.
async fn log_indexes(dir: &Path, prefix: &str) -> Vec<u64> {
    let mut indexes = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return indexes;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(index) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.strip_prefix(prefix))
            .and_then(|n| n.parse::<u64>().ok())
        {
            indexes.push(index);
        }
    }
    indexes.sort_unstable();
    indexes
}

/// Where reading starts: `offset` bytes into the oldest file, or `offset`
/// bytes before the end of the newest (stepping back over rotations).
async fn start_position(
    dir: &Path,
    prefix: &str,
    indexes: &[u64],
    from_end: bool,
    offset: u64,
) -> (u64, u64) {
    if !from_end {
        return (indexes.first().copied().unwrap_or(0), offset);
    }
    let mut remaining = offset;
    for index in indexes.iter().rev() {
        let len = file_len(&dir.join(format!("{prefix}{index}"))).await;
        if remaining <= len {
            return (*index, len - remaining);
        }
        remaining -= len;
    }
    (indexes.first().copied().unwrap_or(0), 0)
}

async fn file_len(path: &Path) -> u64 {
    tokio::fs::metadata(path).await.map_or(0, |m| m.len())
}

struct LogReader {
    dir: PathBuf,
    prefix: String,
    file: u64,
    position: u64,
    follow: bool,
    plain: bool,
    ctx: ClientCtx,
    alloc_id: scheduler_core::model::AllocId,
    idle_polls: u32,
}

impl LogReader {
    fn path(&self, index: u64) -> PathBuf {
        self.dir.join(format!("{}{index}", self.prefix))
    }

    /// The next piece of the body, or `None` at the end.
    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        loop {
            let data = self.read_some().await;
            if !data.is_empty() {
                self.idle_polls = 0;
                return Some(self.frame(data));
            }
            // The current file is exhausted: a newer one means rotation.
            if tokio::fs::metadata(self.path(self.file + 1)).await.is_ok() {
                self.file += 1;
                self.position = 0;
                continue;
            }
            if !self.follow || self.allocation_finished() {
                return None;
            }
            self.idle_polls += 1;
            tokio::time::sleep(POLL).await;
        }
    }

    async fn read_some(&mut self) -> Vec<u8> {
        let Ok(mut file) = tokio::fs::File::open(self.path(self.file)).await else {
            return Vec::new();
        };
        if file
            .seek(std::io::SeekFrom::Start(self.position))
            .await
            .is_err()
        {
            return Vec::new();
        }
        let mut buffer = vec![0; CHUNK];
        match file.read(&mut buffer).await {
            Ok(read) => {
                buffer.truncate(read);
                self.position += read as u64;
                buffer
            }
            Err(_) => Vec::new(),
        }
    }

    /// A follower stops once the allocation is terminal on its client and
    /// a few polls found nothing more (its last output is flushed).
    fn allocation_finished(&self) -> bool {
        if self.idle_polls < 3 {
            return false;
        }
        let Ok(client) = self.ctx.client() else {
            return true;
        };
        client
            .allocation(self.alloc_id.as_str())
            .is_none_or(|alloc| alloc.client_terminal())
    }

    fn frame(&self, data: Vec<u8>) -> Vec<u8> {
        if self.plain {
            return data;
        }
        let file = format!("alloc/logs/{}{}", self.prefix, self.file);
        let frame = serde_json::json!({
            "Data": base64::engine::general_purpose::STANDARD.encode(&data),
            "File": file,
            "Offset": self.position,
        });
        frame.to_string().into_bytes()
    }
}
