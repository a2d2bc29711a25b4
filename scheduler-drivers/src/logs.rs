//! A task's stdout and stderr as rotated files, named as Nomad names them:
//! `<task>.stdout.0`, `<task>.stdout.1`, ... in the allocation's
//! `alloc/logs`. The highest index is the current file; once a file
//! reaches the size limit the next index starts, and the oldest files
//! beyond the count limit are removed. A restarted task appends to the
//! newest file, so `alloc logs` reads one continuous stream.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use scheduler_core::driver::LogRotation;

/// Writes one stream of one task into rotated files.
#[derive(Debug)]
pub struct RotatingWriter {
    dir: PathBuf,
    prefix: String,
    max_files: u32,
    max_file_bytes: u64,
    index: u64,
    written: u64,
    file: File,
}

impl RotatingWriter {
    /// Opens the newest file of `<task>.<stream>` in `rotation.dir`, or
    /// the first one.
    pub fn open(rotation: &LogRotation, task: &str, stream: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(&rotation.dir)?;
        let prefix = format!("{task}.{stream}.");
        let index = indexes(&rotation.dir, &prefix)
            .into_iter()
            .max()
            .unwrap_or(0);
        let path = rotation.dir.join(format!("{prefix}{index}"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            dir: rotation.dir.clone(),
            prefix,
            max_files: rotation.max_files.max(1),
            max_file_bytes: rotation.max_file_bytes.max(1),
            index,
            written,
            file,
        })
    }

    /// Appends `bytes`, rotating where the size limit falls (a write is
    /// split so no file exceeds the limit).
    pub fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.written >= self.max_file_bytes {
                self.rotate()?;
            }
            let room = (self.max_file_bytes - self.written).min(bytes.len() as u64) as usize;
            self.file.write_all(&bytes[..room])?;
            self.written += room as u64;
            bytes = &bytes[room..];
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.index += 1;
        let path = self.dir.join(format!("{}{}", self.prefix, self.index));
        self.file = OpenOptions::new().create(true).append(true).open(path)?;
        self.written = 0;
        let keep_from = (self.index + 1).saturating_sub(u64::from(self.max_files));
        for old in indexes(&self.dir, &self.prefix) {
            if old < keep_from {
                let _ = std::fs::remove_file(self.dir.join(format!("{}{old}", self.prefix)));
            }
        }
        Ok(())
    }
}

/// Indexes of the files `<prefix><n>` in `dir`.
fn indexes(dir: &Path, prefix: &str) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix(prefix)?.parse().ok()
        })
        .collect()
}

/// The log files of one stream, oldest first: what `alloc logs` reads.
pub fn log_files(dir: &Path, task: &str, stream: &str) -> Vec<PathBuf> {
    let prefix = format!("{task}.{stream}.");
    let mut found = indexes(dir, &prefix);
    found.sort_unstable();
    found
        .into_iter()
        .map(|n| dir.join(format!("{prefix}{n}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(dir: &Path, max_files: u32, max_file_bytes: u64) -> LogRotation {
        LogRotation {
            dir: dir.to_owned(),
            max_files,
            max_file_bytes,
        }
    }

    #[test]
    fn files_rotate_at_the_size_limit_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let mut writer =
            RotatingWriter::open(&rotation(dir.path(), 3, 10), "web", "stdout").expect("open");
        for line in 0..10 {
            writer
                .write_all(format!("line {line:02}\n").as_bytes())
                .expect("write");
        }
        let files = log_files(dir.path(), "web", "stdout");
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // 80 bytes in 10-byte files: indexes 0..=7, the last three kept.
        assert_eq!(names, ["web.stdout.5", "web.stdout.6", "web.stdout.7"]);
        for file in &files {
            assert!(std::fs::metadata(file).unwrap().len() <= 10);
        }
        let tail: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(tail.ends_with("line 09\n"), "{tail:?}");
    }

    #[test]
    fn a_reopened_stream_appends_to_its_newest_file() {
        let dir = tempfile::tempdir().expect("dir");
        let limits = rotation(dir.path(), 5, 1000);
        RotatingWriter::open(&limits, "db", "stderr")
            .unwrap()
            .write_all(b"first run\n")
            .unwrap();
        RotatingWriter::open(&limits, "db", "stderr")
            .unwrap()
            .write_all(b"second run\n")
            .unwrap();
        let files = log_files(dir.path(), "db", "stderr");
        assert_eq!(files.len(), 1);
        assert_eq!(
            std::fs::read_to_string(&files[0]).unwrap(),
            "first run\nsecond run\n"
        );
    }
}
