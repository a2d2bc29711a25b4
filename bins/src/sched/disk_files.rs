//! The real filesystem behind the core's `FileSource` trait, so job files can
//! use `file()`, `fileexists()` and `fileset()`.

use scheduler_core::jobspec::files::glob_to_regex;
use scheduler_core::jobspec::{Diagnostics, FileSource};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::job::print_diagnostics;

/// Reads files relative to a base directory (the job file's directory).
#[derive(Debug, Clone)]
pub struct DiskFiles {
    base: PathBuf,
}

/// Largest file `file()` will read; job files are not the place for bulk data.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Bound on directory entries `fileset()` walks, so a pattern over `/` ends.
const MAX_WALK_ENTRIES: usize = 100_000;

impl DiskFiles {
    /// Files relative to `base`.
    pub fn new(base: impl Into<PathBuf>) -> Self {
        DiskFiles { base: base.into() }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }
}

impl FileSource for DiskFiles {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        let full = self.resolve(path);
        let metadata =
            std::fs::metadata(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        if metadata.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{} is larger than {MAX_FILE_BYTES} bytes",
                full.display()
            ));
        }
        std::fs::read_to_string(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_file()
    }

    fn glob(&self, base: &str, pattern: &str) -> Result<Vec<String>, String> {
        let root = self.resolve(base);
        let matcher = glob_to_regex(pattern)?;
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_WALK_ENTRIES {
                    return Err(format!(
                        "fileset: more than {MAX_WALK_ENTRIES} entries under {}",
                        root.display()
                    ));
                }
                let path = entry.path();
                let Ok(file_type) = entry.file_type() else {
                    continue;
                };
                if file_type.is_dir() {
                    stack.push(path);
                } else if file_type.is_file()
                    && let Ok(relative) = path.strip_prefix(&root)
                {
                    let relative = relative.to_string_lossy().replace('\\', "/");
                    if matcher.is_match(&relative) {
                        found.push(relative);
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// Reads a file the user named and parses it with `parse`, which takes
/// the source and the file's name (for its diagnostics). A file that
/// cannot be read prints `NAME: error: cannot read the WHAT: REASON`, one
/// that does not parse its diagnostics; either way the `Err` is the exit
/// code to end with.
pub fn parse_file_or_report<T>(
    path: &Path,
    what: &str,
    parse: impl FnOnce(&str, &str) -> Result<T, Diagnostics>,
) -> Result<T, ExitCode> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("{}: error: cannot read the {what}: {e}", path.display());
        ExitCode::FAILURE
    })?;
    parse(&source, &path.display().to_string()).map_err(|diagnostics| {
        print_diagnostics(&diagnostics);
        ExitCode::FAILURE
    })
}
