//! `schedd`, the agent (server and client). Not written yet: see the issue
//! "Agent daemon, Nomad-compatible HTTP API, and the `sched` CLI".
fn main() {
    eprintln!(
        "schedd: the agent is not available yet in this version; use `sched job validate|inspect`"
    );
    std::process::exit(2);
}
