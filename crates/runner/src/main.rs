//! `forkline-runner runner --server-pid N`: one run's `MainProcess`, execed
//! by the server (see [`forkline_runner::start`]); not for people to start.
//! Its command line is parsed by hand: it is one flag, and the runner is
//! kept to what a run needs.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server_pid = match args.as_slice() {
        [runner, flag, pid] if runner == "runner" && flag == "--server-pid" => pid.parse::<i32>().ok(),
        _ => None,
    };
    let Some(server_pid) = server_pid.filter(|pid| *pid > 0) else {
        eprintln!("usage: forkline-runner runner --server-pid <pid>  (started by the forkline server)");
        return ExitCode::from(2);
    };
    let code = forkline_runner::start::main(forkline_runner::start::RunnerArgs { server_pid });
    ExitCode::from(code.clamp(0, 255) as u8)
}
