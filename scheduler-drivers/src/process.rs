//! Processes as `/proc` shows them: identity that survives pid reuse,
//! liveness, signals to a task's process group, and resource use.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// A process named by pid and start time: a pid alone may name another
/// process after the first one exited and the pid was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// The pid.
    pub pid: i32,
    /// When it started, in clock ticks after boot (`/proc/<pid>/stat`
    /// field 22).
    pub start_ticks: u64,
}

/// The fields of `/proc/<pid>/stat` this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    state: char,
    pgrp: i32,
    utime: u64,
    stime: u64,
    start_ticks: u64,
    rss_pages: u64,
}

pub(crate) fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a `stat` line. The command name (field 2) is in parentheses and
/// may hold spaces and parentheses itself, so fields are counted from the
/// last `)`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(5 - 3)?.parse().ok()?,
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
        rss_pages: field(24)?,
    })
}

impl ProcessId {
    /// The running process `pid`, if there is one.
    pub fn of(pid: i32) -> Option<ProcessId> {
        proc_stat(pid).map(|stat| ProcessId {
            pid,
            start_ticks: stat.start_ticks,
        })
    }

    /// Whether this very process still runs (a zombie has exited).
    pub fn is_alive(&self) -> bool {
        proc_stat(self.pid)
            .is_some_and(|stat| stat.start_ticks == self.start_ticks && stat.state != 'Z')
    }
}

/// Sends `signal` to the process group `pgid` if its leader is still the
/// process `leader` (or the group has members left after the leader
/// exited). Returns whether a signal was sent.
pub(crate) fn signal_group(leader: &ProcessId, signal: Signal) -> bool {
    if leader.is_alive() || !group_members(leader.pid).is_empty() {
        return killpg(Pid::from_raw(leader.pid), signal).is_ok();
    }
    false
}

/// Sends `signal` to one process if it is still `process`.
pub(crate) fn signal_process(process: &ProcessId, signal: Signal) -> bool {
    process.is_alive() && kill(Pid::from_raw(process.pid), signal).is_ok()
}

/// Live members of the process group `pgid`.
pub(crate) fn group_members(pgid: i32) -> Vec<(i32, ProcStat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .filter(|(_, stat)| stat.pgrp == pgid && stat.state != 'Z')
        .collect()
}

/// CPU time, resident memory and process count of a process group.
pub(crate) fn group_usage(pgid: i32) -> (Duration, u64, u32) {
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|p| *p > 0)
        .unwrap_or(4096) as u64;
    let members = group_members(pgid);
    let ticks: u64 = members.iter().map(|(_, s)| s.utime + s.stime).sum();
    let rss: u64 = members.iter().map(|(_, s)| s.rss_pages * page).sum();
    let cpu = Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / ticks_per_second);
    (cpu, rss, members.len() as u32)
}

/// Writes `bytes` to `path` so that readers see the whole file or none.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let line = "4242 (my (odd) task) S 1 4242 4242 0 -1 4194560 120 0 0 0 7 3 0 0 20 0 1 0 987654 1000000 321 18446744073709551615";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.pgrp, 4242);
        assert_eq!((stat.utime, stat.stime), (7, 3));
        assert_eq!(stat.start_ticks, 987654);
        assert_eq!(stat.rss_pages, 321);
    }

    #[test]
    fn this_process_is_alive_and_a_different_start_time_is_not() {
        let me = ProcessId::of(std::process::id() as i32).expect("own stat");
        assert!(me.is_alive());
        let reused = ProcessId {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(!reused.is_alive());
    }
}
