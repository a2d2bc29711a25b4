//! `sched-executor STATE_DIR`: supervises one task for a client (see
//! `scheduler_drivers::executor`). Clients start it; people do not.

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(state_dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: sched-executor STATE_DIR (started by the client, not by hand)");
        std::process::exit(2);
    };
    std::process::exit(scheduler_drivers::executor::run(std::path::Path::new(
        &state_dir,
    )));
}
