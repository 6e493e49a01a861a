//! Idle server: the real binary exec'd as `forkline serve`: time from exec to
//! `/healthz` answering, resident memory once it answers (the server's, and
//! its spare runner's beside it), and the memory each idle SSE subscriber
//! adds (the fan-out target's per-subscriber budget).
//!
//! A separate process, so the figures are the server's alone, not the
//! benchmark's client sockets too.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use super::client;
use super::{Options, Row};

const CASE: &str = "idle server";

pub async fn measure(options: &Options) -> Vec<Row> {
    let reps = options.pick(2, 10);
    let (mut ready_ms, mut rss_mib, mut spare_mib, mut both_mib) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut note = String::new();
    let mut per_subscriber = Vec::new();
    for i in 0..reps {
        match start(options).await {
            Ok((mut child, addr, ms)) => {
                ready_ms.push(ms);
                tokio::time::sleep(Duration::from_millis(50)).await;
                rss_mib.extend(child.id().and_then(rss_kib).map(|k| k as f64 / 1024.0));
                if let (Some(server), Some(spare)) = (child.id(), spare_pid(addr).await) {
                    spare_mib.extend(memory_kib(spare, "/status", "VmRSS:").map(|k| k as f64 / 1024.0));
                    let pss = |pid| memory_kib(pid, "/smaps_rollup", "Pss:");
                    both_mib.extend(pss(server).zip(pss(spare)).map(|(a, b)| (a + b) as f64 / 1024.0));
                }
                if i == 0 {
                    match subscriber_kib(options, &child, addr).await {
                        Ok(kib) => per_subscriber.push(kib),
                        Err(e) => note = format!("subscribers: {e}"),
                    }
                }
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
            Err(e) => note = format!("failed: {e}"),
        }
    }
    let subscribers = options.pick(50, 1_000);
    vec![
        Row::new(CASE, "exec → /healthz answers", "ms", &ready_ms, "target ≤ 100 ms"),
        Row::new(CASE, "resident memory after start", "MiB", &rss_mib, "target ≤ 20 MB"),
        Row::new(CASE, "its spare runner, idle, beside it", "MiB", &spare_mib, "a separate process; its code in huge pages (huge_code.rs)"),
        Row::new(CASE, "server and spare together, shared pages counted once (PSS)", "MiB", &both_mib, ""),
        Row::new("fan-out", &format!("server memory per idle subscriber ({subscribers} on one run)"), "KiB", &per_subscriber, if note.is_empty() { "target ≤ 16 KiB" } else { &note }),
    ]
}

/// Execs the server and waits for `/healthz`; returns the child, its address,
/// and the milliseconds from exec to the first answer.
async fn start(options: &Options) -> std::io::Result<(Child, SocketAddr, f64)> {
    let started = Instant::now();
    let mut child = Command::new(&options.exe)
        // An in-memory store: the benchmark must not fill the user's saved runs.
        .args(["serve", "--listen", "127.0.0.1:0", "--db", ":memory:"])
        // The benchmark's runner: it has the `bench_emit` demo.
        .arg("--runner")
        .arg(&options.runner)
        // A thousand subscribers, all from this one address.
        .args(["--max-connections-per-client", "100000"])
        .env("FORKLINE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let addr: SocketAddr = loop {
        let line = lines.next_line().await?.ok_or_else(|| std::io::Error::other("server exited before listening"))?;
        if let Some(url) = line.split("http://").nth(1) {
            break url.trim().parse().map_err(std::io::Error::other)?;
        }
    };
    loop {
        if let Ok((200, _)) = client::request(addr, "GET", "/healthz", None).await {
            return Ok((child, addr, started.elapsed().as_secs_f64() * 1e3));
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(std::io::Error::other("/healthz never answered"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Holds N subscribers on one open run and returns the server's RSS growth per
/// subscriber, in KiB.
async fn subscriber_kib(options: &Options, child: &Child, addr: SocketAddr) -> std::io::Result<f64> {
    let subscribers = options.pick(50, 1_000);
    let (id, token) =
        client::start_cancellable(addr, &json!({ "demo": "bench_emit", "params": { "processes": 1, "events": 10, "hold_ms": 20_000 } })).await?;
    // One subscriber first, so the run's own memory is in the baseline.
    let mut streams = vec![settled(client::subscribe(addr, &id).await?).await?];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = child.id().and_then(rss_kib).ok_or_else(|| std::io::Error::other("no RSS"))?;
    for _ in 0..subscribers {
        streams.push(settled(client::subscribe(addr, &id).await?).await?);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = child.id().and_then(rss_kib).ok_or_else(|| std::io::Error::other("no RSS"))?;
    let _ = client::cancel(addr, &id, &token).await;
    drop(streams);
    Ok(after.saturating_sub(before) as f64 / subscribers as f64)
}

/// Waits until the stream has delivered the run's backlog, so the subscriber
/// is idle (parked on the log) when memory is read.
async fn settled(mut stream: tokio::net::TcpStream) -> std::io::Result<tokio::net::TcpStream> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    while memchr::memmem::find(&seen, br#""kind":"sleep""#).is_none() {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.map_err(std::io::Error::other)??;
        if n == 0 {
            return Err(std::io::Error::other("stream ended early"));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(stream)
}

/// The spare runner's pid, once it has had time to move its code into huge
/// pages (it does so while the CPUs are idle, checking every 10 ms).
async fn spare_pid(addr: SocketAddr) -> Option<u32> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, body) = client::request(addr, "GET", "/healthz", None).await.ok()?;
    let health: serde_json::Value = serde_json::from_slice(&body).ok()?;
    u32::try_from(health["spare_runner_pid"].as_u64()?).ok()
}

fn rss_kib(pid: u32) -> Option<u64> {
    memory_kib(pid, "/status", "VmRSS:")
}

/// A `<field> <n> kB` line of `/proc/<pid><file>`.
fn memory_kib(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}{file}")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}
