//! `forkline-bench`: the benchmark's command line (see the library for
//! what it measures). `scripts/bench` builds and runs it.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(name = "forkline-bench", version, about = "Measure forkline's event pipeline against Python on this machine: figures and ratios, never pass/fail")]
struct BenchCli {
    /// A few seconds in all: small sizes, few repetitions.
    #[arg(long)]
    quick: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value_os_t = forkline_bench::default_json_path())]
    json: PathBuf,
    /// The venv holding VizTracer for the instrumented-queue comparison; a
    /// full run creates it and installs VizTracer when it is missing.
    #[arg(long, default_value_os_t = forkline_bench::default_venv_path())]
    venv: PathBuf,
    /// The forkline server binary the idle-server case starts (default: the
    /// one beside this benchmark).
    #[arg(long, default_value_os_t = forkline_bench::default_server_exe())]
    server: PathBuf,
    /// The runner binary the cases start runs with: the testkit's, which
    /// has the benchmark's demo (for A/B runs, one built differently).
    #[arg(long, env = "FORKLINE_RUNNER", default_value_os_t = forkline::config::testkit_runner_exe())]
    runner: PathBuf,
    /// Run only these cases (repeatable): emit, throughput, run-start,
    /// worker, queue, overhead, sampler, fanout, cpython, sandbox, idle.
    #[arg(long = "case", value_parser = clap::builder::PossibleValuesParser::new(forkline_bench::CASES))]
    cases: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let args = BenchCli::parse();
    let mut options = forkline_bench::Options::new(args.server, args.runner, args.quick);
    options.json = args.json;
    options.venv = args.venv;
    options.cases = args.cases;
    forkline_bench::main(options)
}
