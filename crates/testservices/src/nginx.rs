//! nginx in front of test instances, configured by the repository's own
//! `deploy/nginx/forkline.conf` (the file the README documents), with its
//! example addresses replaced by the test's: so the configuration the
//! documentation gives is the one the test runs.
//!
//! The file is an `http {}`-level snippet; around it goes the least main
//! configuration nginx needs to run from a temporary folder in the
//! foreground (no daemon, logs and temporary files in that folder).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FOLDER_PREFIX: &str = "forkline-testnginx-";
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The addresses in `deploy/nginx/forkline.conf` that a test replaces.
pub const EXAMPLE_PROXY: &str = "127.0.0.1:8080";
pub const EXAMPLE_WEB1: &str = "127.0.0.1:8081";
pub const EXAMPLE_WEB2: &str = "127.0.0.1:8082";

pub struct Nginx {
    pub addr: SocketAddr,
    folder: PathBuf,
    child: Option<std::process::Child>,
}

fn find() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.is_file())
}

/// A free loopback port, for a server that must be told its port up front.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// nginx with everything in `folder`: its prefix, its error log from the
/// first line on, its configuration.
fn nginx(binary: &Path, folder: &Path) -> Command {
    let mut command = Command::new(binary);
    command.arg("-p").arg(folder).arg("-e").arg(folder.join("error.log")).arg("-c").arg(folder.join("nginx.conf"));
    command
}

impl Nginx {
    /// Starts nginx with `snippet` (the repository's configuration file)
    /// where the example addresses are `web1` and `web2`'s; it listens on a
    /// free loopback port.
    pub fn start(snippet: &Path, web1: SocketAddr, web2: SocketAddr) -> Result<Nginx, String> {
        let binary = find().ok_or("no nginx (/usr/sbin/nginx): Debian's nginx package")?;
        super::reaper::sweep_stale(FOLDER_PREFIX);
        let text = std::fs::read_to_string(snippet).map_err(|e| format!("cannot read {}: {e}", snippet.display()))?;
        for example in [EXAMPLE_PROXY, EXAMPLE_WEB1, EXAMPLE_WEB2] {
            if !text.contains(example) {
                return Err(format!("{} no longer names {example}, which the test replaces", snippet.display()));
            }
        }
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("an address");
        let text = text.replace(EXAMPLE_WEB1, &web1.to_string()).replace(EXAMPLE_WEB2, &web2.to_string()).replace(EXAMPLE_PROXY, &addr.to_string());
        let folder = std::env::temp_dir().join(format!("{FOLDER_PREFIX}{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(&folder).map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
        std::fs::write(folder.join("forkline.conf"), text).map_err(|e| e.to_string())?;
        let d = folder.display();
        let user = if nix::unistd::geteuid().is_root() { "user root root;" } else { "" };
        let main = format!(
            "{user}\ndaemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format upstreams '$request $status $upstream_addr $upstream_status $request_time retry-after=$upstream_http_retry_after';\n  access_log {d}/access.log upstreams;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/forkline.conf;\n}}\n"
        );
        std::fs::write(folder.join("nginx.conf"), main).map_err(|e| e.to_string())?;
        let check = nginx(&binary, &folder)
            .args(["-t", "-q"])
            .output()
            .map_err(|e| format!("cannot run nginx: {e}"))?;
        if !check.status.success() {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(format!("nginx refuses the configuration: {}", String::from_utf8_lossy(&check.stderr).trim()));
        }
        let mut command = nginx(&binary, &folder);
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = super::reaper::spawn(command, None, folder.clone(), libc::SIGTERM).map_err(|e| format!("cannot start nginx: {e}"))?;
        let mut nginx = Nginx { addr, folder, child: Some(child) };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = nginx.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("nginx exited at start ({status}): {}", nginx.error_log()));
            }
            if Instant::now() >= deadline {
                return Err(format!("nginx did not listen on {addr} within {} s", START_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What nginx logged (warnings and errors), for a failing test's message.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.folder.join("error.log")).unwrap_or_default()
    }

    /// Every request, with the upstreams it was sent to and their answers.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.folder.join("access.log")).unwrap_or_default()
    }

    /// The master's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A failing test's best clue to what the proxy did.
        if std::thread::panicking() {
            eprintln!("nginx's error log:\n{}\nnginx's access log:\n{}", self.error_log(), self.access_log());
        }
        if let Some(mut child) = self.child.take() {
            super::reaper::stop(&mut child);
        }
    }
}
