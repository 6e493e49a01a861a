//! What the server tells a runner about its run: the spec sent as one JSON
//! line with the hand-off ([`crate::handoff`]). Both sides read these types,
//! so they live here, below both, rather than with either.

use std::path::PathBuf;

/// The run a runner is handed, one JSON line on its stdin.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    pub demo: String,
    /// The validated parameters (validated again here, for the engine's own list).
    pub params: serde_json::Value,
    /// The run's time origin, CLOCK_MONOTONIC ns.
    pub origin_ns: u64,
    /// Set when a real interpreter runs the demo's Python program instead
    /// of the runner running the native demo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpython: Option<CpythonSpec>,
    /// A stepped run: its gate page ([`crate::gates`]) comes with the
    /// hand-off after the ring, and every traced operation waits at it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stepped: bool,
}

/// Which interpreter runs a CPython run, and where its tracer is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpythonSpec {
    /// The interpreter's executable (its `sys.executable`).
    pub python: PathBuf,
    /// What people call it: `CPython 3.11.7`.
    pub label: String,
    /// The folder holding `forkline_boot.py` and the `forkline_trace` package.
    pub tracer_dir: PathBuf,
    /// An edited program, run instead of the demo's (its parameters then
    /// do not apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where an edited program runs: always set with `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxSpec>,
}

/// Everything a runner needs to put a program in the sandbox; made once by
/// the sandbox's `prepare` and sent with each edited run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    pub bwrap: PathBuf,
    /// The interpreter's executable, its real path (also its path inside).
    pub python: PathBuf,
    /// The host's files the sandbox shows, each at its own path.
    pub binds: Vec<PathBuf>,
    /// The folder holding them, the tracer at the sandbox's `TRACER_INSIDE`, and the
    /// mount points: bound read-only as the sandbox's `/`.
    pub root: PathBuf,
    pub limits: Limits,
}

/// What one edited run may use; each is a setting (`--sandbox-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU seconds per process (SIGXCPU, then SIGKILL).
    pub cpu_seconds: u64,
    /// Virtual address space per process.
    pub address_space_bytes: u64,
    /// Processes and threads of the run together.
    pub processes: u64,
    /// Open descriptors per process.
    pub open_files: u64,
    /// Largest file a process may write.
    pub file_bytes: u64,
    /// Size of each tmpfs (`/tmp`, `/dev/shm`).
    pub tmpfs_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_seconds: 20,
            address_space_bytes: 1 << 30,
            processes: 64,
            open_files: 128,
            file_bytes: 16 << 20,
            tmpfs_bytes: 16 << 20,
        }
    }
}

