//! Watching a container's memory cgroup for OOM kills while it runs.
//!
//! runc on cgroup v1 reports `OOMKilled: false` for a container the kernel
//! killed for memory, and the cgroup is gone by the time the engine says
//! the container exited. So the driver registers for the cgroup's OOM
//! notifications while the container runs (v1: an eventfd on
//! `memory.oom_control` through `cgroup.event_control`; v2: polling
//! `memory.events`) and remembers a kill.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Containers seen OOM-killed, by id.
pub(crate) type OomKills = Arc<Mutex<BTreeSet<String>>>;

/// The memory cgroup directory of process `pid`: v1's memory hierarchy or
/// the v2 unified one.
fn memory_cgroup(pid: i64) -> Option<(PathBuf, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if controllers.split(',').any(|c| c == "memory") {
            return Some((
                Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')),
                false,
            ));
        }
    }
    let unified = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some((
        Path::new("/sys/fs/cgroup").join(unified.trim_start_matches('/')),
        true,
    ))
}

fn oom_kill_count(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.strip_prefix("oom_kill ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Watches the memory cgroup of the container whose main process is
/// `pid`, adding `container_id` to `kills` if the kernel OOM-kills in it.
/// The watch ends with the cgroup.
pub(crate) fn watch(container_id: String, pid: i64, kills: OomKills) {
    let Some((dir, v2)) = memory_cgroup(pid) else {
        return;
    };
    std::thread::spawn(move || {
        let record = || {
            kills
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(container_id.clone());
        };
        if v2 {
            let events = dir.join("memory.events");
            while events.exists() {
                if oom_kill_count(&events) > 0 {
                    record();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        let control = dir.join("memory.oom_control");
        let (Ok(oom_control), Ok(eventfd)) = (
            std::fs::File::open(&control),
            nix::sys::eventfd::EventFd::new(),
        ) else {
            return;
        };
        let registered = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.event_control"))
            .and_then(|mut file| {
                // One write: the kernel parses each write on its own.
                let line = format!("{} {}", eventfd.as_raw_fd(), oom_control.as_raw_fd());
                file.write_all(line.as_bytes())
            });
        if registered.is_err() {
            return;
        }
        // Woken by an OOM (notified as it starts, before the kill counts:
        // the cgroup still exists then) or by the cgroup's removal.
        if eventfd.read().is_ok() && control.exists() {
            record();
        }
    });
}
