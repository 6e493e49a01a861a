//! What runs inside a run, and nothing the server alone needs: the runner
//! process's start ([`start`], the lesson's `MainProcess`), the lesson's
//! building blocks on real processes, threads and shared memory
//! ([`primitives`]), the demos built from them ([`demos`]), the sandbox an
//! edited program runs in ([`sandbox`]) and the interpreters the CPython
//! engine may run ([`interpreters`]).
//!
//! No async runtime, no HTTP, no database: every process a run forks is a
//! fork of the small `forkline-runner` binary, which carries only this crate
//! and `forkline-core`. The server links it as a library too, for the demo
//! catalog (names, parameters, readings) and to prepare the sandbox once.
//!
//! Layers point down only: `start` → `demos` → `primitives` → core.

#[cfg(not(target_os = "linux"))]
compile_error!("forkline runs only on Linux: its runs use PDEATHSIG, /proc, memfd seals and Linux namespaces (see README, Requirements)");

pub mod demos;
pub mod interpreters;
pub mod primitives;
pub mod sandbox;
pub mod start;
