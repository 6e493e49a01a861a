//! Which host files the sandbox shows: exactly what the interpreter needs
//! (its executable, its standard library, the shared libraries those load,
//! and `/bin/sh` for `os.system`), found by asking the interpreter and
//! `ldd`, plus a copy of the tracer that the sandbox's user can read.

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
    command.args(crate::runner::cpython::INTERPRETER_FLAGS).args(["-c", WHERE]).env_clear().env("PATH", "/usr/bin:/bin");
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
pub fn merged_usr_links() -> Vec<(PathBuf, PathBuf)> {
    ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
        .iter()
        .filter_map(|link| std::fs::read_link(link).ok().map(|target| (PathBuf::from(link), target)))
        .collect()
}

/// Copies the tracer (`forkline_boot.py`, `forkline_trace/*.py`) into a
/// folder of its own that any user can read and only this one can write,
/// with its bytecode compiled by `python`, and returns the folder. Named by
/// what it holds, so servers and tests share one; a folder of that name that
/// someone else could have written is not used.
pub fn stage_tracer(tracer_dir: &Path, python: &Path) -> Result<PathBuf, String> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading the tracer {}: {e}", p.display()));
    files.push((PathBuf::from("forkline_boot.py"), read(&tracer_dir.join("forkline_boot.py"))?));
    let package = tracer_dir.join("forkline_trace");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&package)
        .map_err(|e| format!("reading the tracer {}: {e}", package.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    names.sort();
    for path in names {
        let name = Path::new("forkline_trace").join(path.file_name().unwrap_or_default());
        files.push((name, read(&path)?));
    }
    let mut hash = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&(python, &files), &mut hash);
    let name = format!("forkline-tracer-{:016x}", std::hash::Hasher::finish(&hash));
    let dir = std::env::temp_dir().join(&name);
    if trustworthy(&dir) {
        return Ok(dir);
    }
    let fresh = std::env::temp_dir().join(format!("{name}.{}", crate::runs::RunId::random()));
    let fail = |e: std::io::Error| format!("staging the tracer in {}: {e}", fresh.display());
    std::fs::create_dir(&fresh).map_err(fail)?;
    std::fs::create_dir(fresh.join("forkline_trace")).map_err(fail)?;
    for (name, bytes) in &files {
        std::fs::write(fresh.join(name), bytes).map_err(fail)?;
    }
    let mut command = Command::new(python);
    command.args(["-I", "-S", "-m", "compileall", "-q"]).arg(&fresh).env_clear().env("PATH", "/usr/bin:/bin");
    output_within(command, LIST_LIMIT).map_err(|e| format!("compiling the tracer: {e}"))?;
    open_to_all(&fresh).map_err(fail)?;
    match std::fs::rename(&fresh, &dir) {
        Ok(()) => Ok(dir),
        // Another process staged the same tracer a moment ago.
        Err(_) if trustworthy(&dir) => {
            let _ = std::fs::remove_dir_all(&fresh);
            Ok(dir)
        }
        // Someone else's folder of that name: ours stays under its own name.
        Err(_) => Ok(fresh),
    }
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
        if meta.uid() != me || meta.mode() & 0o022 != 0 || meta.file_type().is_symlink() {
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
