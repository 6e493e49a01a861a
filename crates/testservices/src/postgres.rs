//! A throwaway PostgreSQL cluster: initdb'd into a temporary folder on the
//! first call, listening on a unix socket in that folder only (no TCP
//! port to collide with), fsync off, stopped when the test process ends.
//! Each test asks for a database of its own, so tests never see each
//! other's rows.
//!
//! PostgreSQL refuses to run as root; as root the cluster runs as Debian's
//! `postgres` user (the folder is given to it), otherwise as the caller.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const FOLDER_PREFIX: &str = "forkline-testpg-";

/// The running cluster.
pub struct Cluster {
    folder: PathBuf,
    bin: PathBuf,
    user: String,
    child: Mutex<Option<std::process::Child>>,
    databases: AtomicUsize,
}

/// The cluster of this test process, started on first use; Err says why
/// there is none (no PostgreSQL binaries here, or it would not start).
pub fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// Where Debian (or PATH) keeps `initdb` and `postgres`: the newest
/// `/usr/lib/postgresql/<version>/bin` first.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .filter(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file());
    versions.into_iter().rev().map(|(_, bin)| bin).chain(from_path).find(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
}

fn start() -> Result<Cluster, String> {
    let bin = find_bin().ok_or("no PostgreSQL server (initdb, postgres) under /usr/lib/postgresql/*/bin or on PATH")?;
    super::reaper::sweep_stale(FOLDER_PREFIX);
    let folder = std::env::temp_dir().join(format!("{FOLDER_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
    let root = nix::unistd::geteuid().is_root();
    let (owner, user) = if root {
        let pg = nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or("running as root, and there is no `postgres` user to run PostgreSQL as (Debian's postgresql package makes it)")?;
        nix::unistd::chown(&folder, Some(pg.uid), Some(pg.gid)).map_err(|e| format!("cannot give {} to postgres: {e}", folder.display()))?;
        (Some((pg.uid.as_raw(), pg.gid.as_raw())), "postgres".to_owned())
    } else {
        (None, nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map_or("postgres".into(), |u| u.name))
    };
    let data = folder.join("data");
    let mut initdb = Command::new(bin.join("initdb"));
    initdb.args(["--no-sync", "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", &user, "-D"]).arg(&data);
    initdb.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    as_user(&mut initdb, owner);
    let out = initdb.output().map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&folder);
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&folder)
        .args(["-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "max_connections=300", "-c", "shared_buffers=32MB", "-c", "log_min_messages=fatal"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = super::reaper::spawn(postgres, owner, folder.clone(), libc::SIGQUIT).map_err(|e| format!("cannot start postgres: {e}"))?;
    let cluster = Cluster { folder, bin, user, child: Mutex::new(Some(child)), databases: AtomicUsize::new(0) };
    cluster.wait_ready()?;
    Ok(cluster)
}

/// initdb must not run as root either.
fn as_user(command: &mut Command, owner: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

impl Cluster {
    /// Waits until `postmaster.pid` says the server accepts connections.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let pid_file = std::fs::read_to_string(self.folder.join("data/postmaster.pid")).unwrap_or_default();
            if pid_file.lines().any(|l| l.trim() == "ready") && self.folder.join(".s.PGSQL.5432").exists() {
                return Ok(());
            }
            if let Some(child) = self.child.lock().expect("child lock").as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("postgres exited at start ({status})"));
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("postgres did not accept connections within {} s", START_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The folder holding the cluster's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.folder
    }

    /// A new, empty database, and the URL forkline's `--db` takes for it.
    pub fn database(&self, tag: &str) -> Result<String, String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let tag: String = tag.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
        let name = format!("t{n}_{}", tag.to_ascii_lowercase());
        self.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// The URL of database `name` over the cluster's socket.
    pub fn url(&self, name: &str) -> String {
        format!("postgres:///{name}?host={}&user={}", self.folder.display(), self.user)
    }

    /// Runs one SQL command on the `postgres` database.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.folder)
            .args(["-U", &self.user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atqc", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The postmaster's pid, for tests that check nothing is left behind.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().expect("child lock").as_ref().map(|c| c.id())
    }

    /// Stops the cluster now (it is also stopped at exit).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().expect("child lock").take() {
            super::reaper::stop(&mut child);
        }
    }
}
