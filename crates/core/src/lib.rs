//! The vocabulary both sides of a run share, and nothing else: what an
//! event is ([`event`], defined once in `schema/events.json`), the shared
//! memory ring a runner writes them into ([`ring`]), what the server tells a
//! runner about its run ([`spec`]) and how it hands it over ([`handoff`]),
//! the gates a stepped run's threads wait at ([`gates`]) and the clock both
//! read ([`clock`]).
//!
//! It sits below the runner and the server and knows neither: no async
//! runtime, no HTTP, no database, so the processes a run forks carry none.

#[cfg(not(target_os = "linux"))]
compile_error!("forkline runs only on Linux: its runs use PDEATHSIG, /proc, memfd seals and Linux namespaces (see README, Requirements)");

pub mod clock;
pub mod event;
pub mod gates;
pub mod handoff;
mod memfd;
pub mod ring;
pub mod spec;
