//! Nomad's CLI takes long flags with a single dash (`-var k=v`,
//! `-check-index 7`, `-data-dir DIR`); clap wants two. Arguments that look
//! like a single-dash long flag are rewritten before clap sees them, so both
//! spellings work. Shared by `sched` and `schedd` (each includes this file
//! with `#[path]`).

use std::ffi::OsString;

/// Rewrites `-name` and `-name=value` to `--name...` for multi-letter names,
/// up to a lone `--` after which everything is passed through untouched.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        match arg.to_str() {
            Some("--") => {
                passthrough = true;
                out.push(arg);
            }
            Some(text) if is_single_dash_long_flag(text) => {
                out.push(OsString::from(format!("-{text}")))
            }
            _ => out.push(arg),
        }
    }
    out
}

fn is_single_dash_long_flag(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('-') else {
        return false;
    };
    let name = rest.split('=').next().unwrap_or("");
    !rest.starts_with('-')
        && name.len() > 1
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn rewrites_single_dash_long_flags_only() {
        assert_eq!(
            run(&[
                "sched",
                "job",
                "validate",
                "-var",
                "a=1",
                "-var-file=x.hcl",
                "-h",
                "--json",
                "f.hcl"
            ]),
            [
                "sched",
                "job",
                "validate",
                "--var",
                "a=1",
                "--var-file=x.hcl",
                "-h",
                "--json",
                "f.hcl"
            ]
        );
        assert_eq!(run(&["sched", "--", "-var"]), ["sched", "--", "-var"]);
        assert_eq!(run(&["sched", "-"]), ["sched", "-"]);
    }
}
