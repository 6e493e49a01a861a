//! The demos this server offers: the ones its runner runs, as the runner
//! describes them when the server starts (`forkline-runner catalog`; why
//! the server asks rather than knows: `forkline_runner::demos::catalog`).
//! A run, a demo page or an embed naming any other demo is refused before
//! a runner is asked for it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::demos::Demo;

/// How long a runner may take to describe its demos at start: it prints a
/// few dozen KiB and exits, in milliseconds; a runner that does not is the
/// wrong program, and the server says so instead of waiting.
pub const CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

/// The demos of one runner, in its order.
#[derive(Debug, Clone)]
pub struct Catalog {
    demos: Arc<[&'static Demo]>,
}

impl Catalog {
    /// Asks the runner at `exe` which demos it runs.
    pub fn of_runner(exe: &Path) -> Result<Catalog, String> {
        let failed = |why: String| format!("the runner {} did not describe its demos: {why}", exe.display());
        let child = Command::new(exe)
            .arg("catalog")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let (done, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(child.wait_with_output()));
        let output = match output.recv_timeout(CATALOG_TIMEOUT) {
            Ok(output) => output.map_err(|e| failed(e.to_string()))?,
            Err(_) => {
                // Not reaped yet: its waiting thread is still blocked on it.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                return Err(failed(format!("no answer within {} s", CATALOG_TIMEOUT.as_secs())));
            }
        };
        if !output.status.success() {
            return Err(failed(format!("{} ({})", output.status, String::from_utf8_lossy(&output.stderr).trim())));
        }
        let demos = crate::demos::catalog::read(&output.stdout).map_err(|e| failed(format!("its answer is not a catalog: {e}")))?;
        Ok(Catalog { demos: demos.into() })
    }

    pub fn find(&self, name: &str) -> Option<&'static Demo> {
        self.iter().find(|d| d.name == name)
    }

    /// Every demo, hidden ones included (the API lists them all).
    pub fn iter(&self) -> impl Iterator<Item = &'static Demo> + '_ {
        self.demos.iter().copied()
    }

    /// The demos the index page lists.
    pub fn listed(&self) -> impl Iterator<Item = &'static Demo> + '_ {
        self.iter().filter(|d| !d.hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_runner_describes_the_lesson_and_nothing_else() {
        let catalog = Catalog::of_runner(&crate::config::default_runner_exe()).unwrap();
        let names: Vec<_> = catalog.iter().map(|d| d.name).collect();
        assert_eq!(names, crate::demos::all().map(|d| d.name).collect::<Vec<_>>());
        assert!(catalog.find("fault").is_none() && catalog.find("bench_emit").is_none());
    }

    #[test]
    fn the_testkit_runner_adds_its_demos_unlisted() {
        let catalog = Catalog::of_runner(&crate::config::testkit_runner_exe()).unwrap();
        for name in ["fault", "bench_emit"] {
            assert!(catalog.find(name).is_some_and(|d| d.hidden), "{name}");
            assert!(!catalog.listed().any(|d| d.name == name), "{name}");
        }
        assert!(catalog.find("lock").is_some());
    }

    #[test]
    fn a_program_that_is_not_a_runner_is_refused_at_start() {
        for exe in ["/bin/true", "/bin/false", "/nonexistent/forkline-runner"] {
            let why = Catalog::of_runner(Path::new(exe)).unwrap_err();
            assert!(why.contains(exe) && why.contains("did not describe its demos"), "{why}");
        }
    }
}
