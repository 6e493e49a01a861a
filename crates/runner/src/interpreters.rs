//! The Python interpreters this server offers to the CPython engine: found
//! once at start-up from `--python` (default: `python3` on `PATH`), each
//! asked by running it what it really is.
//!
//! A name on `PATH` is often not the interpreter itself (pyenv puts a shell
//! script there that costs 60 ms per start), so the probe asks for
//! `sys.executable` and every run execs that path directly. The probe runs
//! with the environment cleared and `-I`, as runs do, and is bounded in
//! time; an interpreter that fails it is left out with a warning, never
//! offered half-working. This runs before the server starts its threads.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long one interpreter may take to answer the probe.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// What the probe prints: one JSON object.
const PROBE: &str = "import json, sys, sysconfig\n\
free = bool(sysconfig.get_config_var('Py_GIL_DISABLED'))\n\
print(json.dumps({'executable': sys.executable, 'implementation': sys.implementation.name,\n\
  'version': '%d.%d.%d' % sys.version_info[:3], 'free_threaded': free,\n\
  'gil_enabled': sys._is_gil_enabled() if hasattr(sys, '_is_gil_enabled') else True}))\n";

/// The oldest CPython the tracer supports.
const MIN_VERSION: (u32, u32) = (3, 8);

/// One interpreter a run may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interpreter {
    /// What `POST /api/runs` names it by: the version, `t` appended for a
    /// free-threaded build (`3.11.7`, `3.13.1t`).
    pub id: String,
    /// The interpreter itself (its `sys.executable`), exec'd by each run.
    /// Not published: a server's file layout is nobody else's business.
    #[serde(skip)]
    pub path: PathBuf,
    /// What the page shows: `CPython 3.11.7`, `CPython 3.13.1 (free-threaded)`.
    pub label: String,
    pub version: String,
    /// A build without the GIL (`python3.13t`): threads really run at once.
    pub free_threaded: bool,
}

#[derive(Deserialize)]
struct ProbeAnswer {
    executable: PathBuf,
    implementation: String,
    version: String,
    free_threaded: bool,
    gil_enabled: bool,
}

/// Why an interpreter is not offered.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0} is not on PATH")]
    NotFound(String),
    #[error("could not start {0}: {1}")]
    Start(String, std::io::Error),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0} answered with something other than its description: {1}")]
    Garbled(String, String),
    #[error("{0} is {1}, not CPython {major}.{minor} or later", major = MIN_VERSION.0, minor = MIN_VERSION.1)]
    Unsupported(String, String),
}

/// Finds every interpreter named in `names` (paths or commands on `PATH`),
/// skipping those that fail the probe (each failure is returned beside).
/// Two names for the same interpreter are offered once.
pub fn discover(names: &[String]) -> (Vec<Interpreter>, Vec<ProbeError>) {
    let mut found: Vec<Interpreter> = Vec::new();
    let mut errors = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match probe(name) {
            Ok(interpreter) if found.iter().any(|f| f.path == interpreter.path || f.id == interpreter.id) => {}
            Ok(interpreter) => found.push(interpreter),
            Err(e) => errors.push(e),
        }
    }
    (found, errors)
}

/// The interpreters offered when `--python` is not given: `python3` on `PATH`,
/// found once per process (tests start many servers).
pub fn default_interpreters() -> Vec<Interpreter> {
    static FOUND: std::sync::OnceLock<Vec<Interpreter>> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| discover(&[DEFAULT_PYTHON.to_owned()]).0).clone()
}

/// The interpreter looked for when none is named.
pub const DEFAULT_PYTHON: &str = "python3";

/// Asks one interpreter what it is.
pub fn probe(name: &str) -> Result<Interpreter, ProbeError> {
    let path = resolve(name).ok_or_else(|| ProbeError::NotFound(name.to_owned()))?;
    let mut child = Command::new(&path)
        .args(crate::start::cpython::INTERPRETER_FLAGS)
        .args(["-c", PROBE])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ProbeError::Start(name.to_owned(), e))?;
    let deadline = Instant::now() + PROBE_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProbeError::Timeout(name.to_owned(), PROBE_LIMIT));
            }
        }
    };
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(64 * 1024).read_to_string(&mut out);
    }
    let answer: ProbeAnswer = serde_json::from_str(out.trim())
        .map_err(|e| ProbeError::Garbled(name.to_owned(), format!("exit {status}, {e}")))?;
    describe(name, answer)
}

fn describe(name: &str, answer: ProbeAnswer) -> Result<Interpreter, ProbeError> {
    let what = format!("{} {}", answer.implementation, answer.version);
    let mut parts = answer.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if answer.implementation != "cpython" || version < MIN_VERSION || !answer.executable.is_absolute() {
        return Err(ProbeError::Unsupported(name.to_owned(), what));
    }
    let free = answer.free_threaded && !answer.gil_enabled;
    Ok(Interpreter {
        id: format!("{}{}", answer.version, if answer.free_threaded { "t" } else { "" }),
        path: answer.executable,
        label: format!("CPython {}{}", answer.version, if free { " (free-threaded)" } else { "" }),
        version: answer.version,
        free_threaded: free,
    })
}

/// A path as given, or the first match on `PATH`, as a shell would find it.
fn resolve(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python3_on_path_is_found_as_its_real_executable() {
        let Ok(found) = probe("python3") else {
            eprintln!("skipped: no python3 on PATH");
            return;
        };
        assert!(found.path.is_absolute() && found.path.is_file(), "{found:?}");
        assert!(found.label.starts_with("CPython 3."), "{found:?}");
        assert!(found.id.starts_with("3."), "{found:?}");
        let (again, errors) = discover(&["python3".into(), found.path.display().to_string()]);
        assert_eq!((again.len(), errors.len()), (1, 0), "the same interpreter twice is offered once");
    }

    #[test]
    fn what_is_not_a_working_cpython_is_refused_with_a_reason() {
        assert!(matches!(probe("forkline-no-such-python"), Err(ProbeError::NotFound(_))));
        assert!(matches!(probe("/bin/true"), Err(ProbeError::Garbled(..))));
        let pypy = ProbeAnswer {
            executable: "/usr/bin/pypy3".into(),
            implementation: "pypy".into(),
            version: "3.10.14".into(),
            free_threaded: false,
            gil_enabled: true,
        };
        assert!(matches!(describe("pypy3", pypy), Err(ProbeError::Unsupported(..))));
    }

    #[test]
    fn a_free_threaded_build_is_named_for_it() {
        let answer = ProbeAnswer {
            executable: "/opt/py/bin/python3.13t".into(),
            implementation: "cpython".into(),
            version: "3.13.1".into(),
            free_threaded: true,
            gil_enabled: false,
        };
        let found = describe("python3.13t", answer).unwrap();
        assert_eq!((found.id.as_str(), found.label.as_str(), found.free_threaded), ("3.13.1t", "CPython 3.13.1 (free-threaded)", true));
    }
}
