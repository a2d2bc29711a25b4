//! File and path functions. Files are read through the context's
//! [`FileSource`](crate::jobspec::FileSource); relative paths are joined with
//! the job file's directory first. Paths use `/` separators.

use super::{FunctionContext, string_arg, truncate};
use crate::jobspec::value::Value;
use base64::Engine as _;

type Res = Result<Value, String>;

/// Lexically cleans a `/`-separated path as Go's `path.Clean` does.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn is_absolute(path: &str) -> bool {
    path.starts_with('/')
}

/// Joins a relative path with the job file's directory and cleans it.
fn resolve(ctx: &FunctionContext<'_>, path: &str) -> Result<String, String> {
    if path.starts_with('~') {
        return Err(format!(
            "cannot expand the home directory in {:?}; use a path relative to the job file",
            truncate(path)
        ));
    }
    if is_absolute(path) || ctx.base_dir.is_empty() {
        Ok(clean(path))
    } else {
        Ok(clean(&format!("{}/{path}", ctx.base_dir)))
    }
}

fn read(ctx: &FunctionContext<'_>, args: &[Value]) -> Result<String, String> {
    let path = resolve(ctx, &string_arg(args, 0)?)?;
    ctx.files.read_to_string(&path)
}

/// `file(path)`: the file's contents as a string.
pub(super) fn file(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    read(ctx, &args).map(Value::String)
}

/// `filebase64(path)`: the file's contents, base64-encoded. Files are read
/// as UTF-8 text, so binary files cannot be read.
pub(super) fn filebase64(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = read(ctx, &args)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(text),
    ))
}

/// `fileescaped(path)`: the file's contents with `${` and `%{` escaped so the
/// text can be placed in a template without being interpolated.
pub(super) fn fileescaped(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = read(ctx, &args)?;
    Ok(Value::String(
        text.replace("${", "$${").replace("%{", "%%{"),
    ))
}

pub(super) fn fileexists(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let path = resolve(ctx, &string_arg(&args, 0)?)?;
    Ok(Value::Bool(ctx.files.exists(&path)))
}

/// `fileset(path, pattern)`: files under `path` matching the glob, relative
/// to `path`, sorted.
pub(super) fn fileset(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let base = resolve(ctx, &string_arg(&args, 0)?)?;
    let pattern = string_arg(&args, 1)?;
    let mut found = ctx.files.glob(&base, &pattern)?;
    found.sort();
    found.dedup();
    Ok(Value::List(found.into_iter().map(Value::String).collect()))
}

/// `basename(path)`: the last element of the path, as Go's `filepath.Base`.
pub(super) fn basename(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let path = string_arg(&args, 0)?;
    if path.is_empty() {
        return Ok(Value::string("."));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::string("/"));
    }
    Ok(Value::string(trimmed.rsplit('/').next().unwrap_or(trimmed)))
}

/// `dirname(path)`: all but the last element, as Go's `filepath.Dir`.
pub(super) fn dirname(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let path = string_arg(&args, 0)?;
    let dir = match path.rfind('/') {
        Some(at) => &path[..=at],
        None => "",
    };
    Ok(Value::String(clean(dir)))
}

/// `abspath(path)`: the path made absolute against the job file's directory.
/// The core knows no working directory, so this needs an absolute path or an
/// absolute base directory.
pub(super) fn abspath(ctx: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let path = string_arg(&args, 0)?;
    if is_absolute(&path) {
        return Ok(Value::String(clean(&path)));
    }
    if is_absolute(ctx.base_dir) {
        return Ok(Value::String(clean(&format!("{}/{path}", ctx.base_dir))));
    }
    Err(format!(
        "cannot make {:?} absolute because the job file's directory is not known as an absolute path",
        truncate(&path)
    ))
}

/// `pathexpand(path)`: paths without a leading `~` are returned unchanged;
/// home directories are unknown to the core, so `~` paths are an error.
pub(super) fn pathexpand(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let path = string_arg(&args, 0)?;
    if path.starts_with('~') {
        return Err(format!(
            "cannot expand {:?} because home directories are not available when evaluating job files",
            truncate(&path)
        ));
    }
    Ok(Value::String(path))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::clean;
    use crate::jobspec::MemoryFiles;
    use crate::jobspec::value::Value;

    fn files() -> MemoryFiles {
        let mut f = MemoryFiles::new();
        f.insert("jobs/hello.txt", "Hello ${name} %{if}")
            .insert("jobs/conf/a.yml", "a")
            .insert("jobs/conf/sub/b.yml", "b")
            .insert("top.txt", "top");
        f
    }

    #[test]
    fn reading_files_relative_to_the_job() {
        let f = files();
        assert_eq!(
            run_with(&f, "jobs", "file", vec![s("hello.txt")]),
            Ok(s("Hello ${name} %{if}"))
        );
        assert_eq!(
            run_with(&f, "jobs", "file", vec![s("./conf/../hello.txt")]),
            Ok(s("Hello ${name} %{if}"))
        );
        assert_eq!(
            run_with(&f, "jobs", "file", vec![s("../top.txt")]),
            Ok(s("top"))
        );
        assert_eq!(run_with(&f, "", "file", vec![s("top.txt")]), Ok(s("top")));
        let err = run_with(&f, "jobs", "file", vec![s("missing.txt")]).unwrap_err();
        assert!(
            err.starts_with("file: ") && err.contains("missing.txt"),
            "{err}"
        );
        assert!(
            run_with(&f, "", "file", vec![s("~/x")])
                .unwrap_err()
                .contains("home directory")
        );
        assert_eq!(
            run_with(&f, "jobs", "filebase64", vec![s("conf/a.yml")]),
            Ok(s("YQ=="))
        );
        assert!(run_with(&f, "jobs", "filebase64", vec![s("nope")]).is_err());
        assert_eq!(
            run_with(&f, "jobs", "fileescaped", vec![s("hello.txt")]),
            Ok(s("Hello $${name} %%{if}"))
        );
        assert!(run_with(&f, "jobs", "fileescaped", vec![list(vec![])]).is_err());
    }

    #[test]
    fn exists_and_set() {
        let f = files();
        assert_eq!(
            run_with(&f, "jobs", "fileexists", vec![s("hello.txt")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run_with(&f, "jobs", "fileexists", vec![s("top.txt")]),
            Ok(Value::Bool(false))
        );
        assert!(run_with(&f, "jobs", "fileexists", vec![Value::Null]).is_err());
        assert_eq!(
            run_with(&f, "jobs", "fileset", vec![s("conf"), s("**/*.yml")]),
            Ok(strs(&["a.yml", "sub/b.yml"]))
        );
        assert_eq!(
            run_with(&f, "", "fileset", vec![s("."), s("*.txt")]),
            Ok(strs(&["top.txt"]))
        );
        assert!(
            run_with(&f, "jobs", "fileset", vec![s("conf"), s("[")])
                .unwrap_err()
                .contains("unclosed")
        );
    }

    #[test]
    fn path_functions() {
        assert_eq!(
            run("basename", vec![s("foo/bar/baz.txt")]),
            Ok(s("baz.txt"))
        );
        assert_eq!(run("basename", vec![s("foo/bar/")]), Ok(s("bar")));
        assert_eq!(run("basename", vec![s("/")]), Ok(s("/")));
        assert_eq!(run("basename", vec![s("")]), Ok(s(".")));
        fails("basename", vec![list(vec![])], "must be a string");
        assert_eq!(run("dirname", vec![s("foo/bar/baz.txt")]), Ok(s("foo/bar")));
        assert_eq!(run("dirname", vec![s("baz.txt")]), Ok(s(".")));
        assert_eq!(run("dirname", vec![s("/baz.txt")]), Ok(s("/")));
        fails("dirname", vec![Value::Null], "must be a string");
        assert_eq!(run("abspath", vec![s("/a/./b/../c")]), Ok(s("/a/c")));
        assert_eq!(
            run_with(&files(), "/srv/jobs", "abspath", vec![s("x/y")]),
            Ok(s("/srv/jobs/x/y"))
        );
        fails("abspath", vec![s("x")], "cannot make \"x\" absolute");
        assert_eq!(run("pathexpand", vec![s("/etc/x")]), Ok(s("/etc/x")));
        fails(
            "pathexpand",
            vec![s("~/.ssh/id_rsa")],
            "home directories are not available",
        );
        assert_eq!(clean("a//b/./../c/"), "a/c");
        assert_eq!(clean("../../x"), "../../x");
        assert_eq!(clean("/../x"), "/x");
    }
}
