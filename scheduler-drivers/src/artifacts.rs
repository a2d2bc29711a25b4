//! Task artifacts (the `artifact` block): files fetched into the task's
//! directory before it starts, from `http://` URLs or local paths
//! (`file://`, absolute, or relative to the task directory), checked
//! against `options { checksum = "sha256:..." }` (also sha512, sha1, md5),
//! and unpacked when they are archives (`.tar.gz`, `.tgz`, `.tar`, `.zip`,
//! `.gz`) unless `options { archive = "false" }` or `mode = "file"`.
//! `destination` is relative to the task directory (`local/` by default)
//! and may not leave it. Archive entries that would land outside the
//! destination are skipped by the unpackers.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::Digest;

use scheduler_core::model::Artifact;
use scheduler_core::taskenv::TaskEnv;

/// Why an artifact was not fetched. Nothing of it is left behind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("artifact {source_url}: {message}")]
pub struct ArtifactError {
    /// The artifact's source, as interpolated.
    pub source_url: String,
    /// What went wrong.
    pub message: String,
}

/// Fetches one artifact into `task_dir`; the path it was written to.
pub async fn fetch_artifact(
    artifact: &Artifact,
    env: &TaskEnv,
    task_dir: &Path,
) -> Result<PathBuf, ArtifactError> {
    let source = env.interpolate(&artifact.getter_source);
    let fail = |message: String| ArtifactError {
        source_url: source.clone(),
        message,
    };
    let relative = env.interpolate(artifact.relative_dest.as_deref().unwrap_or("local/"));
    let relative_path = Path::new(&relative);
    if relative_path.is_absolute()
        || relative_path
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(fail(format!(
            "destination {relative:?} must stay inside the task directory"
        )));
    }
    let destination = task_dir.join(relative_path);
    let bytes = read_source(&source, artifact, task_dir)
        .await
        .map_err(fail)?;
    if let Some(expected) = artifact.getter_options.get("checksum") {
        verify_checksum(&bytes, &env.interpolate(expected)).map_err(fail)?;
    }
    let mode = artifact
        .getter_mode
        .clone()
        .unwrap_or_else(|| "any".to_owned());
    let unpack = mode.as_str() != "file"
        && artifact
            .getter_options
            .get("archive")
            .is_none_or(|a| a != "false");
    let name = source
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("artifact")
        .split('?')
        .next()
        .unwrap_or("artifact")
        .to_owned();
    let source_for_error = source.clone();
    tokio::task::spawn_blocking(move || place(&bytes, &name, &destination, &mode, unpack))
        .await
        .map_err(|e| ArtifactError {
            source_url: source_for_error.clone(),
            message: e.to_string(),
        })?
        .map_err(|message| ArtifactError {
            source_url: source_for_error,
            message,
        })
}

async fn read_source(
    source: &str,
    artifact: &Artifact,
    task_dir: &Path,
) -> Result<Vec<u8>, String> {
    if source.starts_with("http://") {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| e.to_string())?;
        let mut request = client.get(source);
        for (name, value) in &artifact.getter_headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()));
        }
        return response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string());
    }
    if source.starts_with("https://") {
        return Err("https is not supported by this client build (no TLS stack); serve it over http or fetch it beside the job".to_owned());
    }
    if let Some((scheme, _)) = source.split_once("::").or_else(|| {
        source
            .split_once("://")
            .filter(|(scheme, _)| *scheme != "file")
    }) {
        return Err(format!(
            "source scheme {scheme:?} is not supported (http, file and local paths are)"
        ));
    }
    let path = source.strip_prefix("file://").unwrap_or(source);
    let path = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        task_dir.join(path)
    };
    tokio::fs::read(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn verify_checksum(bytes: &[u8], expected: &str) -> Result<(), String> {
    let (kind, hex) = expected
        .split_once(':')
        .ok_or_else(|| format!("checksum {expected:?} is not TYPE:HEX"))?;
    let actual = match kind {
        "sha256" => hex_of(&sha2::Sha256::digest(bytes)),
        "sha512" => hex_of(&sha2::Sha512::digest(bytes)),
        "sha1" => hex_of(&sha1::Sha1::digest(bytes)),
        "md5" => hex_of(&md5::Md5::digest(bytes)),
        other => return Err(format!("checksum type {other:?} is not supported")),
    };
    if actual.eq_ignore_ascii_case(hex.trim()) {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch: expected {kind}:{}, got {kind}:{actual}",
            hex.trim()
        ))
    }
}

fn hex_of(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes or unpacks the fetched bytes. On failure nothing new is left.
fn place(
    bytes: &[u8],
    name: &str,
    destination: &Path,
    mode: &str,
    unpack: bool,
) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| format!("{}: {e}", destination.display());
    if mode == "file" {
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(destination, bytes).map_err(io)?;
        return Ok(destination.to_owned());
    }
    std::fs::create_dir_all(destination).map_err(io)?;
    let lower = name.to_ascii_lowercase();
    if unpack {
        // Unpack into a fresh directory beside the destination first, so
        // a corrupt archive leaves nothing half-written.
        let staging = destination.join(format!(".unpack-{name}"));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(io)?;
        let unpacked = if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(unpack_tar(flate2::read::GzDecoder::new(bytes), &staging))
        } else if lower.ends_with(".tar") {
            Some(unpack_tar(bytes, &staging))
        } else if lower.ends_with(".zip") {
            Some(
                zip::ZipArchive::new(std::io::Cursor::new(bytes))
                    .and_then(|mut archive| archive.extract(&staging))
                    .map_err(|e| format!("zip: {e}")),
            )
        } else if let Some(stem) = lower.strip_suffix(".gz").map(|_| &name[..name.len() - 3]) {
            let mut plain = Vec::new();
            Some(
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut plain)
                    .map_err(|e| format!("gzip: {e}"))
                    .and_then(|_| std::fs::write(staging.join(stem), &plain).map_err(io)),
            )
        } else {
            None
        };
        if let Some(result) = unpacked {
            if let Err(err) = result {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(err);
            }
            move_contents(&staging, destination).map_err(io)?;
            let _ = std::fs::remove_dir_all(&staging);
            return Ok(destination.to_owned());
        }
        let _ = std::fs::remove_dir_all(&staging);
    }
    let file = destination.join(name);
    std::fs::write(&file, bytes).map_err(io)?;
    Ok(file)
}

fn unpack_tar(reader: impl Read, into: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.unpack(into).map_err(|e| format!("tar: {e}"))
}

fn move_contents(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if target.is_dir() && entry.path().is_dir() {
            move_contents(&entry.path(), &target)?;
        } else {
            std::fs::rename(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_verified_by_type() {
        let sha = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(verify_checksum(b"hello", sha), Ok(()));
        let err = verify_checksum(b"hellO", sha).unwrap_err();
        assert!(
            err.starts_with("checksum mismatch: expected sha256:2cf2"),
            "{err}"
        );
        assert_eq!(
            verify_checksum(b"hello", "md5:5d41402abc4b2a76b9719d911017c592"),
            Ok(())
        );
        assert!(
            verify_checksum(b"x", "crc32:0")
                .unwrap_err()
                .contains("crc32")
        );
        assert!(verify_checksum(b"x", "nocolon").is_err());
    }
}
