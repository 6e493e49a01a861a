//! `forkline-runner`: one run's `MainProcess`, execed by the server with a
//! demo of the lesson (see [`forkline_runner::start`]); not for people to
//! start. The testkit's runner (crates/testkit) is the same with more demos.

fn main() -> std::process::ExitCode {
    forkline_runner::start::cli(forkline_runner::demos::LESSON)
}
