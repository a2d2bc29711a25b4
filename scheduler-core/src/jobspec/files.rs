//! Access to files beside a job spec, for the `file()`, `fileexists()` and
//! `fileset()` functions and for `-var-file`.
//!
//! The core does no IO, so reading is a trait: the CLI implements it on the
//! real filesystem, tests and embedders use [`MemoryFiles`] or [`NoFiles`].

use std::collections::BTreeMap;

/// Read-only access to files a job spec refers to.
///
/// The functions join a relative path written in the job file with
/// [`ParseOptions::base_dir`](super::ParseOptions::base_dir) before calling
/// here; a path that is still relative is resolved by the implementation
/// against its own root (the CLI's root is the job file's directory, and it
/// passes an empty `base_dir`).
pub trait FileSource {
    /// The whole file as UTF-8 text, or a message saying why it cannot be read.
    fn read_to_string(&self, path: &str) -> Result<String, String>;

    /// Whether a regular file exists at `path`.
    fn exists(&self, path: &str) -> bool;

    /// The paths of regular files under `base` matching the glob `pattern`
    /// (`*`, `?`, `**`, `[...]`, `{a,b}`), relative to `base`, sorted.
    fn glob(&self, base: &str, pattern: &str) -> Result<Vec<String>, String>;
}

/// A file source that has no files: every read fails with a clear message.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl FileSource for NoFiles {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "no such file {path:?} (file access is not available here)"
        ))
    }

    fn exists(&self, _path: &str) -> bool {
        false
    }

    fn glob(&self, _base: &str, _pattern: &str) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

/// Files held in memory, keyed by path; for tests and for embedders that keep
/// job files somewhere other than a filesystem.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    files: BTreeMap<String, String>,
}

impl MemoryFiles {
    /// An empty set of files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, contents: impl Into<String>) -> &mut Self {
        self.files.insert(normalize(&path.into()), contents.into());
        self
    }
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./").to_owned()
}

impl FileSource for MemoryFiles {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| format!("no such file {path:?}"))
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(&normalize(path))
    }

    fn glob(&self, base: &str, pattern: &str) -> Result<Vec<String>, String> {
        let base = normalize(base);
        let prefix = if base.is_empty() || base == "." {
            String::new()
        } else {
            format!("{}/", base.trim_end_matches('/'))
        };
        let matcher = glob_to_regex(pattern)?;
        Ok(self
            .files
            .keys()
            .filter_map(|path| path.strip_prefix(&prefix))
            .filter(|rel| matcher.is_match(rel))
            .map(str::to_owned)
            .collect())
    }
}

/// Translates a glob (as Nomad's `fileset` accepts, doublestar syntax) into an
/// anchored regular expression over `/`-separated relative paths.
pub fn glob_to_regex(pattern: &str) -> Result<regex::Regex, String> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_braces = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                // `**/` matches zero or more directories; a trailing `**` anything.
                if chars.get(i + 2) == Some(&'/') {
                    out.push_str("(?:.*/)?");
                    i += 3;
                    continue;
                }
                out.push_str(".*");
                i += 2;
                continue;
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or_else(|| format!("unclosed '[' in glob {pattern:?}"))?;
                let class: String = chars[i + 1..i + end].iter().collect();
                let class = class
                    .strip_prefix('!')
                    .map_or(class.clone(), |c| format!("^{c}"));
                out.push('[');
                out.push_str(&class);
                out.push(']');
                i += end + 1;
                continue;
            }
            '{' => {
                in_braces = true;
                out.push_str("(?:");
            }
            '}' if in_braces => {
                in_braces = false;
                out.push(')');
            }
            ',' if in_braces => out.push('|'),
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if in_braces {
        return Err(format!("unclosed '{{' in glob {pattern:?}"));
    }
    out.push('$');
    regex::Regex::new(&out).map_err(|e| format!("invalid glob {pattern:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_glob_matches_relative_paths() {
        let mut files = MemoryFiles::new();
        files
            .insert("dir/a.txt", "a")
            .insert("dir/sub/b.txt", "b")
            .insert("dir/c.json", "c");
        assert_eq!(files.glob("dir", "*.txt").unwrap(), vec!["a.txt"]);
        assert_eq!(
            files.glob("dir", "**/*.txt").unwrap(),
            vec!["a.txt", "sub/b.txt"]
        );
        assert_eq!(
            files.glob("dir", "*.{txt,json}").unwrap(),
            vec!["a.txt", "c.json"]
        );
        assert!(files.read_to_string("./dir/a.txt").is_ok());
        assert!(files.read_to_string("missing").is_err());
    }
}
