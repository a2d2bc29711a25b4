//! Artifacts for real: a tar.gz from a local path with its sha256, a zip
//! and a plain file over HTTP from a local server, a wrong checksum that
//! leaves nothing behind, and an allocation whose task reads what its
//! artifact brought (and one that fails for a bad checksum).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use scheduler_core::driver::TaskDriver;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{AllocClientStatus, Allocation, Artifact, Node};
use scheduler_core::taskenv::TaskEnv;
use scheduler_drivers::alloc_runner::{ClientContext, run_alloc};
use scheduler_drivers::artifacts::fetch_artifact;
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;

mod common;
use common::executor;

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, text.as_bytes())
            .expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        writer.write_all(text.as_bytes()).expect("write");
    }
    writer.finish().expect("zip").into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves `routes` over HTTP/1.0 on loopback for a bounded number of
/// requests; the base URL.
async fn serve(routes: BTreeMap<String, Vec<u8>>, requests: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..requests {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).to_string();
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let response = match routes.get(&path) {
                Some(body) => {
                    let mut r =
                        format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                            .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = socket.write_all(&response).await;
        }
    });
    base
}

fn artifact(source: &str, checksum: Option<&str>) -> Artifact {
    Artifact {
        getter_source: source.to_owned(),
        getter_options: checksum
            .map(|c| BTreeMap::from([("checksum".to_owned(), c.to_owned())]))
            .unwrap_or_default(),
        ..Artifact::default()
    }
}

#[tokio::test]
async fn archives_and_files_are_fetched_checked_and_unpacked_into_local() {
    let root = tempfile::tempdir().expect("dir");
    let task_dir = root.path().join("task");
    std::fs::create_dir_all(&task_dir).unwrap();
    let env = TaskEnv::default();

    // A tar.gz from a local path, with its checksum.
    let archive = tar_gz(&[("conf/app.conf", "port = 8080\n"), ("README", "hi\n")]);
    let archive_path = root.path().join("bundle.tar.gz");
    std::fs::write(&archive_path, &archive).unwrap();
    let good = artifact(
        archive_path.to_str().unwrap(),
        Some(&format!("sha256:{}", sha256(&archive))),
    );
    fetch_artifact(&good, &env, &task_dir)
        .await
        .expect("tar.gz");
    assert_eq!(
        std::fs::read_to_string(task_dir.join("local/conf/app.conf")).unwrap(),
        "port = 8080\n"
    );

    // A wrong checksum: an error naming both sums, and nothing unpacked.
    let other_dir = root.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let bad = artifact(
        archive_path.to_str().unwrap(),
        Some(&format!("sha256:{}", "0".repeat(64))),
    );
    let err = fetch_artifact(&bad, &env, &other_dir).await.unwrap_err();
    assert!(err.message.contains("checksum mismatch"), "{err}");
    assert!(!other_dir.join("local/conf").exists());

    // Over HTTP: a zip (unpacked) and a plain file (kept as is).
    let zip = zip_of(&[("web/index.html", "<h1>ok</h1>\n")]);
    let base = serve(
        BTreeMap::from([
            ("/site.zip".to_owned(), zip.clone()),
            ("/tool.sh".to_owned(), b"#!/bin/sh\necho tool\n".to_vec()),
        ]),
        3,
    )
    .await;
    let mut zipped = artifact(
        &format!("{base}/site.zip"),
        Some(&format!("sha256:{}", sha256(&zip))),
    );
    zipped.relative_dest = Some("local/site".to_owned());
    fetch_artifact(&zipped, &env, &task_dir).await.expect("zip");
    assert_eq!(
        std::fs::read_to_string(task_dir.join("local/site/web/index.html")).unwrap(),
        "<h1>ok</h1>\n"
    );
    let tool = fetch_artifact(&artifact(&format!("{base}/tool.sh"), None), &env, &task_dir)
        .await
        .expect("file");
    assert_eq!(tool, task_dir.join("local/tool.sh"));
    let missing = fetch_artifact(&artifact(&format!("{base}/nope"), None), &env, &task_dir)
        .await
        .unwrap_err();
    assert!(missing.message.contains("404"), "{missing}");

    // A destination outside the task directory is refused.
    let mut escaping = artifact(archive_path.to_str().unwrap(), None);
    escaping.relative_dest = Some("../outside".to_owned());
    assert!(fetch_artifact(&escaping, &env, &task_dir).await.is_err());
}

fn context(data_dir: &Path) -> Arc<ClientContext> {
    let driver: Arc<dyn TaskDriver> = Arc::new(RawExecDriver::new(executor()));
    Arc::new(ClientContext {
        data_dir: data_dir.to_owned(),
        node: Node::default(),
        drivers: BTreeMap::from([("raw_exec".to_owned(), driver)]),
        state: Arc::new(ClientState::open(data_dir).expect("state")),
        catalog: Arc::new(ServiceCatalog::new()),
    })
}

fn alloc_with_artifact(source: &Path, checksum: &str, id: &str) -> Allocation {
    let hcl = format!(
        r#"
job "reader" {{
  type = "batch"
  group "g" {{
    restart {{ attempts = 0 }}
    task "read" {{
      driver = "raw_exec"
      artifact {{
        source = "{}"
        options {{ checksum = "{checksum}" }}
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "cat $NOMAD_TASK_DIR/conf/app.conf"]
      }}
    }}
  }}
}}
"#,
        source.display()
    );
    let job = parse(&hcl, &ParseOptions::new("reader.nomad.hcl"))
        .expect("job")
        .job;
    Allocation {
        id: id.into(),
        name: "reader.g[0]".to_owned(),
        task_group: "g".to_owned(),
        job: Some(Arc::new(job)),
        ..Allocation::default()
    }
}

#[tokio::test]
async fn a_task_reads_its_artifact_and_a_bad_checksum_fails_the_allocation() {
    let data = tempfile::tempdir().expect("dir");
    let archive = tar_gz(&[("conf/app.conf", "from the artifact\n")]);
    let path = data.path().join("bundle.tgz");
    std::fs::write(&path, &archive).unwrap();

    let good = alloc_with_artifact(&path, &format!("sha256:{}", sha256(&archive)), "a-good");
    let status = tokio::time::timeout(
        Duration::from_secs(30),
        run_alloc(context(data.path()), good)
            .expect("runs")
            .finished(),
    )
    .await
    .expect("finishes");
    assert_eq!(
        status.client_status,
        AllocClientStatus::Complete,
        "{status:?}"
    );
    let out: String = log_files(
        &data.path().join("allocs/a-good/alloc/logs"),
        "read",
        "stdout",
    )
    .iter()
    .map(|f| std::fs::read_to_string(f).unwrap())
    .collect();
    assert_eq!(out, "from the artifact\n");

    let bad = alloc_with_artifact(&path, &format!("md5:{}", "0".repeat(32)), "a-bad");
    let status = run_alloc(context(data.path()), bad)
        .expect("runs")
        .finished()
        .await;
    assert_eq!(status.client_status, AllocClientStatus::Failed);
    let event = &status.task_states["read"].events[0];
    assert_eq!(event.event_type, "Failed Artifact Download");
    assert!(
        event.message.contains("checksum mismatch"),
        "{}",
        event.message
    );
}
