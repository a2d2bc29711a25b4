//! `sched-executor STATE_DIR`: supervises one task for a client (see
//! `scheduler_drivers::executor`). Clients start it; people do not.
//! `sched-executor --init STATE_DIR` is the init of an isolated task's
//! namespaces, which the executor starts.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let code = match args.as_slice() {
        [flag, state_dir] if flag == "--init" => {
            scheduler_drivers::executor::run_init(std::path::Path::new(state_dir))
        }
        [state_dir] => scheduler_drivers::executor::run(std::path::Path::new(state_dir)),
        _ => {
            eprintln!("usage: sched-executor STATE_DIR (started by the client, not by hand)");
            2
        }
    };
    std::process::exit(code);
}
