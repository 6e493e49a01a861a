//! Which host files the sandbox shows: exactly what the interpreter needs
//! (its executable, its standard library, the shared libraries those load,
//! and `/bin/sh` for `os.system`), found by asking the interpreter and
//! `ldd`, gathered with a copy of the tracer into one folder that becomes
//! the sandbox's root.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long listing the interpreter's files may take.
const LIST_LIMIT: Duration = Duration::from_secs(20);

/// Where the standard library is, and the extension modules in it.
const WHERE: &str = "import json, os, sys, sysconfig\n\
paths = sysconfig.get_paths()\n\
dynload = [p for p in sys.path if p.endswith('lib-dynload') and os.path.isdir(p)]\n\
mods = [os.path.join(d, f) for d in dynload for f in sorted(os.listdir(d)) if f.endswith('.so')]\n\
print(json.dumps({'stdlib': sorted({os.path.realpath(paths['stdlib']), os.path.realpath(paths['platstdlib'])} | {os.path.realpath(d) for d in dynload}), 'modules': mods}))\n";

#[derive(serde::Deserialize)]
struct Where {
    stdlib: Vec<PathBuf>,
    modules: Vec<PathBuf>,
}

/// What to bind read-only for `python` (its real path).
pub fn interpreter_files(python: &Path) -> Result<Vec<PathBuf>, String> {
    let mut command = Command::new(python);
    command.args(crate::start::cpython::INTERPRETER_FLAGS).args(["-c", WHERE]).env_clear().env("PATH", "/usr/bin:/bin");
    let output = output_within(command, LIST_LIMIT).map_err(|e| format!("asking {} for its files: {e}", python.display()))?;
    let found: Where = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{} did not say where its standard library is: {e}", python.display()))?;
    let shell = as_opened(Path::new("/bin/sh")).ok_or("/bin/sh is missing (os.system needs it)")?;
    let mut elves: Vec<PathBuf> = vec![python.to_owned(), shell.clone()];
    elves.extend(found.modules);
    let mut binds: BTreeSet<PathBuf> = BTreeSet::new();
    binds.insert(python.to_owned());
    binds.insert(shell);
    binds.extend(shared_libraries(&elves)?);
    // Where the loader finds libraries that extension modules pull in.
    binds.extend(as_opened(Path::new("/etc/ld.so.cache")));
    let mut stdlib = found.stdlib;
    stdlib.sort();
    for dir in stdlib {
        if !binds.iter().any(|b| dir.starts_with(b)) {
            binds.insert(dir);
        }
    }
    // A folder bound already covers what lies in it.
    let all: Vec<PathBuf> = binds.iter().cloned().collect();
    Ok(all.iter().filter(|p| !all.iter().any(|q| q != *p && p.starts_with(q))).cloned().collect())
}

/// Every shared library the files load, as the loader will open them.
fn shared_libraries(files: &[PathBuf]) -> Result<BTreeSet<PathBuf>, String> {
    let mut command = Command::new("ldd");
    command.args(files).env_clear().env("PATH", "/usr/bin:/bin");
    let output = output_within(command, LIST_LIMIT).map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut libraries = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        // `libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
        let path = match line.split_once("=> ") {
            Some((_, rest)) => rest,
            None => line,
        };
        let Some(path) = path.split(" (").next().filter(|p| p.starts_with('/')) else { continue };
        if let Some(opened) = as_opened(Path::new(path)) {
            libraries.insert(opened);
        }
    }
    if libraries.is_empty() {
        return Err(format!("ldd found no shared library for {}", files[0].display()));
    }
    Ok(libraries)
}

/// The path with its folders resolved but not its last part, which a bind
/// mount resolves itself: `/lib64/ld-linux-x86-64.so.2` becomes
/// `/usr/lib64/ld-linux-x86-64.so.2`, the name the loader asks for under the
/// sandbox's own `/lib64 → usr/lib64`. None when it does not exist.
fn as_opened(path: &Path) -> Option<PathBuf> {
    let parent = std::fs::canonicalize(path.parent()?).ok()?;
    let opened = parent.join(path.file_name()?);
    opened.exists().then_some(opened)
}

/// The host's merged-/usr links (`/lib` → `usr/lib`), made inside as well.
fn merged_usr_links() -> Vec<(PathBuf, PathBuf)> {
    ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
        .iter()
        .filter_map(|link| std::fs::read_link(link).ok().map(|target| (PathBuf::from(link), target)))
        .collect()
}

/// Builds the sandbox's root once: a folder holding `binds` at their own
/// paths (hard links where the filesystem allows, copies elsewhere), the
/// host's merged-/usr links, empty mount points, and the tracer at
/// `forkline/` with its bytecode compiled by `python`. bubblewrap then binds
/// this one folder as `/`: one mount instead of one per file, about 9 ms of
/// every run's start here. Readable by any user, writable by this one only;
/// named by what it holds, so servers and tests share one, and a folder of
/// that name that someone else could have written is not used.
pub fn stage_root(binds: &[PathBuf], tracer_dir: &Path, python: &Path) -> Result<PathBuf, String> {
    let mut tracer: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading the tracer {}: {e}", p.display()));
    tracer.push((PathBuf::from("forkline_boot.py"), read(&tracer_dir.join("forkline_boot.py"))?));
    let package = tracer_dir.join("forkline_trace");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&package)
        .map_err(|e| format!("reading the tracer {}: {e}", package.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    names.sort();
    for path in names {
        let name = Path::new("forkline_trace").join(path.file_name().unwrap_or_default());
        tracer.push((name, read(&path)?));
    }
    // What the root holds: the tracer's text, and each bound file's identity.
    let mut hash = std::hash::DefaultHasher::new();
    // SAFETY: geteuid cannot fail. Each user builds (and trusts) its own.
    std::hash::Hash::hash(&(python, &tracer, unsafe { libc::geteuid() }), &mut hash);
    for bind in binds {
        let meta = std::fs::metadata(bind).map_err(|e| format!("{}: {e}", bind.display()))?;
        std::hash::Hash::hash(&(bind, meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec()), &mut hash);
    }
    let name = format!("forkline-root-{:016x}", std::hash::Hasher::finish(&hash));
    let dir = std::env::temp_dir().join(&name);
    if trustworthy(&dir) {
        return Ok(dir);
    }
    // A name no one can guess and take first; created below or failing.
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).map_err(|e| format!("the OS random source: {e}"))?;
    let fresh = std::env::temp_dir().join(format!("{name}.{:016x}", u64::from_ne_bytes(salt)));
    let fail = |e: std::io::Error| format!("building the sandbox's root in {}: {e}", fresh.display());
    std::fs::create_dir(&fresh).map_err(fail)?;
    for bind in binds {
        // A bound path that is a link stands for what it points to, as a
        // bind mount would resolve it (`/usr/bin/sh` is dash).
        let real = std::fs::canonicalize(bind).map_err(fail)?;
        place(&real, &fresh.join(bind.strip_prefix("/").unwrap_or(bind))).map_err(fail)?;
    }
    for (link, target) in merged_usr_links() {
        let inside = fresh.join(link.strip_prefix("/").unwrap_or(&link));
        if !inside.exists() {
            std::os::unix::fs::symlink(&target, inside).map_err(fail)?;
        }
    }
    for mount_point in ["proc", "dev", "tmp", "forkline/forkline_trace"] {
        std::fs::create_dir_all(fresh.join(mount_point)).map_err(fail)?;
    }
    for (name, bytes) in &tracer {
        std::fs::write(fresh.join("forkline").join(name), bytes).map_err(fail)?;
    }
    let mut command = Command::new(python);
    command.args(["-I", "-S", "-m", "compileall", "-q"]).arg(fresh.join("forkline")).env_clear().env("PATH", "/usr/bin:/bin");
    output_within(command, LIST_LIMIT).map_err(|e| format!("compiling the tracer: {e}"))?;
    open_to_all(&fresh.join("forkline")).map_err(fail)?;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).map_err(fail)?;
    match std::fs::rename(&fresh, &dir) {
        Ok(()) => Ok(dir),
        // Another process built the same root a moment ago.
        Err(_) if trustworthy(&dir) => {
            let _ = std::fs::remove_dir_all(&fresh);
            Ok(dir)
        }
        // Someone else's folder of that name: ours stays under its own name.
        Err(_) => Ok(fresh),
    }
}

/// Puts `from` (a file or a folder, walked) at `to`: hard links where the
/// filesystem allows (no copy, the same inode, its owner and mode), copies
/// where it does not; folders made 0755, symbolic links made anew.
fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        make_dirs(parent)?;
    }
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
    }
    if meta.is_dir() {
        make_dirs(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            place(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    if !meta.is_file() {
        return Ok(());
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop))
}

fn make_dirs(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent)?;
    }
    std::fs::create_dir(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

/// Readable by all, writable by the owner only, all the way down.
fn open_to_all(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            open_to_all(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

/// Owned by this user and writable by no one else, all the way down.
fn trustworthy(dir: &Path) -> bool {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    fn walk(path: &Path, me: u32) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
        // A link's own mode means nothing; its owner does.
        let writable = meta.mode() & 0o022 != 0 && !meta.file_type().is_symlink();
        if meta.uid() != me || writable {
            return false;
        }
        !meta.is_dir()
            || std::fs::read_dir(path).is_ok_and(|entries| entries.filter_map(Result::ok).all(|e| walk(&e.path(), me)))
    }
    walk(dir, me) && dir.join("forkline_boot.py").is_file()
}

/// Runs a command to its end, reading its output, killed past `limit`.
pub fn output_within(mut command: Command, limit: Duration) -> std::io::Result<std::process::Output> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut out);
        }
        out
    });
    let mut err = Vec::new();
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if let Some(s) = stderr.as_mut() {
        let _ = s.take(64 * 1024).read_to_end(&mut err);
    }
    let out = reader.join().unwrap_or_default();
    Ok(std::process::Output { status, stdout: out, stderr: err })
}
