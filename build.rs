//! Builds `forkline-runner`, the small binary the server execs for every
//! run, and tells the server where it is (`FORKLINE_RUNNER_EXE`); and, in
//! the same nested build, the testkit's runner (crates/testkit: the lesson's
//! demos and the fault and benchmark ones) that the tests and the benchmark
//! start runs with (`FORKLINE_TESTKIT_RUNNER_EXE`). The product server never
//! execs the testkit's unless `--runner` names it.
//!
//! Every process of a run is a fork of its runner, so the runner is its own
//! binary, carrying `crates/runner` and `crates/core` only, not the server's
//! async runtime, HTTP stack and SQLite. Cargo cannot yet make one package
//! depend on another's binary (artifact dependencies are unstable), so this
//! script builds it with a nested `cargo build` of the same profile, in a
//! target folder of its own (the outer build holds the lock on this one).
//! `cargo run --release` and `cargo test` then always find runners built
//! from the same sources as the server. Building the testkit's too costs
//! the small testkit crate and one more link (a few seconds, once).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for input in ["build.rs", "Cargo.lock", "crates", "python/programs", "schema"] {
        println!("cargo:rerun-if-changed={input}");
    }
    let [runner, testkit] = build_runners(&root).unwrap_or_else(|why| panic!("building the runners failed: {why}"));
    println!("cargo:rustc-env=FORKLINE_RUNNER_EXE={}", runner.display());
    println!("cargo:rustc-env=FORKLINE_TESTKIT_RUNNER_EXE={}", testkit.display());
}

/// The binaries built, as `[package, binary]`: the product's runner, then the testkit's.
const RUNNERS: [[&str; 2]; 2] = [["forkline-runner", "forkline-runner"], ["forkline-testkit", "forkline-testkit-runner"]];

fn build_runners(root: &Path) -> Result<[PathBuf; 2], String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("cargo did not set {name}"));
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let profile = var("PROFILE")?; // "debug" or "release": the base of the profile in use
    let (target, host) = (var("TARGET")?, var("HOST")?);
    // OUT_DIR is <target-dir>[/<triple>]/<profile>/build/forkline-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).ok_or("OUT_DIR is not where cargo puts it")?;
    let target_dir = profile_dir.join("runner-build");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--locked", "--offline"]);
    for [package, bin] in RUNNERS {
        command.args(["--package", package, "--bin", bin]);
    }
    command
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if profile == "release" {
        command.arg("--release");
    }
    if target != host {
        command.args(["--target", &target]);
    }
    // What cargo told this script about the outer build must not steer the
    // nested one (its own build scripts get their own); the jobserver
    // (CARGO_MAKEFLAGS) stays, so both builds share the same job slots.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let keep = matches!(name.as_ref(), "CARGO_HOME" | "CARGO_MAKEFLAGS") || ["CARGO_REGISTRIES_", "CARGO_NET_", "CARGO_HTTP_"].iter().any(|p| name.starts_with(p));
        let outer = name.starts_with("CARGO_") || matches!(name.as_ref(), "OUT_DIR" | "TARGET" | "HOST" | "NUM_JOBS" | "OPT_LEVEL" | "PROFILE" | "DEBUG" | "RUSTC_LINKER");
        if outer && !keep {
            command.env_remove(name.as_ref());
        }
    }
    let status = command.stdout(Stdio::null()).status().map_err(|e| format!("starting cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build exited with {status} (its errors are above)"));
    }
    let mut dir = target_dir;
    if target != host {
        dir.push(&target);
    }
    dir.push(&profile);
    let built = |[_, bin]: [&str; 2]| {
        let exe = dir.join(bin);
        exe.is_file().then_some(exe.clone()).ok_or_else(|| format!("{} was not built", exe.display()))
    };
    Ok([built(RUNNERS[0])?, built(RUNNERS[1])?])
}
