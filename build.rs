//! Builds `forkline-runner`, the small binary the server execs for every
//! run, and tells the server where it is (`FORKLINE_RUNNER_EXE`).
//!
//! Every process of a run is a fork of its runner, so the runner is its own
//! binary, carrying `crates/runner` and `crates/core` only, not the server's
//! async runtime, HTTP stack and SQLite. Cargo cannot yet make one package
//! depend on another's binary (artifact dependencies are unstable), so this
//! script builds it with a nested `cargo build` of the same profile, in a
//! target folder of its own (the outer build holds the lock on this one).
//! `cargo run --release` and `cargo test` then always find a runner built
//! from the same sources as the server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for input in ["build.rs", "Cargo.lock", "crates", "python/programs", "schema"] {
        println!("cargo:rerun-if-changed={input}");
    }
    let runner = build_runner(&root).unwrap_or_else(|why| panic!("building forkline-runner failed: {why}"));
    println!("cargo:rustc-env=FORKLINE_RUNNER_EXE={}", runner.display());
}

fn build_runner(root: &Path) -> Result<PathBuf, String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("cargo did not set {name}"));
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let profile = var("PROFILE")?; // "debug" or "release": the base of the profile in use
    let (target, host) = (var("TARGET")?, var("HOST")?);
    // OUT_DIR is <target-dir>[/<triple>]/<profile>/build/forkline-<hash>/out.
    let profile_dir = out_dir.ancestors().nth(3).ok_or("OUT_DIR is not where cargo puts it")?;
    let target_dir = profile_dir.join("runner-build");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--locked", "--offline", "--package", "forkline-runner", "--bin", "forkline-runner"])
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
    let mut exe = target_dir;
    if target != host {
        exe.push(&target);
    }
    exe.push(&profile);
    exe.push("forkline-runner");
    exe.is_file().then_some(exe.clone()).ok_or_else(|| format!("{} was not built", exe.display()))
}
