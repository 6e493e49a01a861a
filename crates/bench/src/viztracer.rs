//! VizTracer for the "instrumented queue" row: the Python tracer that a
//! lesson's reader would use to see what forkline shows, so the fair
//! comparison for forkline's traced queue.
//!
//! It is not part of Python, so it lives in a venv the bench manages
//! (`target/bench-venv` unless `--venv` says otherwise). A full run creates
//! the venv and `pip install`s VizTracer into it when it is missing; a quick
//! run (the smoke test under `cargo test`) only uses one that is already
//! there, so no test depends on the network or on VizTracer. Every way it can
//! be missing ends up as the rows' note, never as a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Options;

/// Creating the venv and installing VizTracer with a wheel from PyPI takes
/// seconds; a stuck index must not hold the bench forever.
const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// The venv's interpreter when VizTracer runs in it, else the rows' note.
pub async fn find(options: &Options) -> Result<PathBuf, String> {
    let why = |text: String| format!("VizTracer not available: {text}");
    let python = options.venv.join("bin/python");
    if has_viztracer(&python).await {
        return Ok(python);
    }
    if options.quick {
        return Err(why(format!("no venv with it at {} (a quick run never installs; scripts/bench does)", options.venv.display())));
    }
    if !python.exists() {
        let venv = options.venv.as_os_str();
        run(Path::new(&options.python), &["-m".as_ref(), "venv".as_ref(), venv]).await.map_err(|e| why(format!("python3 -m venv: {e}")))?;
    }
    let pip = ["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "viztracer"];
    run(&python, &pip.map(AsRef::as_ref)).await.map_err(|e| why(format!("pip install viztracer: {e}")))?;
    match has_viztracer(&python).await {
        true => Ok(python),
        false => Err(why(format!("installed, but `{} -m viztracer --version` fails", python.display()))),
    }
}

async fn has_viztracer(python: &Path) -> bool {
    python.exists() && run(python, &["-m".as_ref(), "viztracer".as_ref(), "--version".as_ref()]).await.is_ok()
}

/// Runs a setup command; Err carries the last line it printed on stderr.
async fn run(exe: &Path, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let child = tokio::process::Command::new(exe).args(args).stdin(std::process::Stdio::null()).kill_on_drop(true).output();
    let output = match tokio::time::timeout(INSTALL_LIMIT, child).await {
        Err(_) => return Err(format!("gave up after {} s", INSTALL_LIMIT.as_secs())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_venv_that_cannot_be_made_is_a_note_not_a_failure() {
        let mut options = Options::new(PathBuf::from("forkline"), PathBuf::from("forkline-runner"), false);
        // Under a regular file: no venv can be created there, with or without network.
        options.venv = PathBuf::from("/dev/null/venv");
        let why = find(&options).await.expect_err("no venv there");
        assert!(why.starts_with("VizTracer not available: "), "{why}");
        options.quick = true;
        let why = find(&options).await.expect_err("quick runs never install");
        assert!(why.contains("never installs"), "{why}");
    }
}
