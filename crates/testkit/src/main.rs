//! `forkline-testkit-runner`: the product runner with the testkit's demos
//! added (see the library). Started by tests and the benchmark, as
//! `forkline --runner <this>` or `Config::with_runner`.

fn main() -> std::process::ExitCode {
    forkline_runner::start::cli(&forkline_testkit::catalog())
}
