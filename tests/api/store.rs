//! The run store under pressure: many viewers of one saved run, a flood of
//! runs from one client, a server killed mid-run, a failing store. Each
//! test runs on both back ends: an SQLite file and a PostgreSQL database
//! (the test process's own cluster; skipped, saying so, where there is no
//! PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use forkline::config::StoreLocation;
use forkline::runs::Runs;
use forkline::store::Store;
use forkline::Config;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// A server on a store file, with client addresses (a trusted proxy on
/// 127.0.0.1 names them in X-Forwarded-For), served as the binary serves.
struct StoreApp {
    app: TestApp,
    store: Arc<Store>,
    server: tokio::task::JoinHandle<()>,
}

/// Where a test's store lives.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A test's store, new and empty.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    /// A new store of `kind` for `test`; None (the test says it is skipped)
    /// where PostgreSQL cannot be had.
    pub fn new(kind: Kind, test: &str) -> Option<Db> {
        match kind {
            Kind::Sqlite => Some(Db::Sqlite(temp_db())),
            Kind::Postgres => match forkline_testservices::postgres::cluster().and_then(|c| c.database(test)) {
                Ok(url) => Some(Db::Postgres(url)),
                Err(why) => {
                    forkline_testservices::skip(test, &why);
                    None
                }
            },
        }
    }

    pub fn location(&self) -> StoreLocation {
        match self {
            Db::Sqlite(path) => StoreLocation::File(path.clone()),
            Db::Postgres(url) => StoreLocation::parse(url).expect("the test cluster's URL parses"),
        }
    }

    /// What `--db` is given.
    pub fn arg(&self) -> String {
        match self {
            Db::Sqlite(path) => path.display().to_string(),
            Db::Postgres(url) => url.clone(),
        }
    }

    pub fn remove(&self) {
        if let Db::Sqlite(path) = self {
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        }
    }
}

/// Each named test (an `async fn(Kind)`), once on each back end.
macro_rules! on_both_back_ends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(super::Kind::Sqlite).await })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(super::Kind::Postgres).await })*
        }
    };
}

on_both_back_ends!(
    two_hundred_stalled_viewers_of_a_saved_run_share_one_copy_of_it,
    a_flood_of_runs_from_one_client_leaves_another_clients_permalink,
    a_run_in_flight_when_the_server_is_killed_answers_interrupted_after_a_restart,
    a_failing_store_leaves_the_run_complete_but_unsaved_and_the_store_degraded,
);

async fn spawn_on(db: &Db, adjust: impl FnOnce(&mut Config)) -> StoreApp {
    let mut config = Config::with_runner(testkit_runner_exe());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.store = db.location();
    config.trusted_proxy = Some("127.0.0.1".parse().unwrap());
    // As in spawn_app: many runs and streams from one address.
    config.client_run_rate.per_minute = 0;
    config.max_connections_per_client = 100_000;
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let store = Store::open(&config.store, config.retention).await.expect("store opens");
    let listening = forkline::http::listen::Listening::from_config(&config);
    let runs = Runs::new(Arc::new(config));
    let app = forkline::app_with_store(runs.clone(), Some(store.clone()));
    let server = tokio::spawn(forkline::http::listen::serve(listener, app, listening, std::future::pending()));
    StoreApp { app: TestApp { addr, client: reqwest::Client::new(), runs }, store, server }
}

impl StoreApp {
    async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        self.app.runs.shutdown().await;
    }

    /// Starts a run as `client` (by X-Forwarded-For) and reads it to its end.
    async fn run_as(&self, client: &str, demo: &str, params: Value) -> FinishedRun {
        let response = self
            .app
            .client
            .post(self.app.url("/api/runs"))
            .header("x-forwarded-for", client)
            .json(&json!({ "demo": demo, "params": params }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        // Read as its own client: had the run finished before the stream
        // was asked for, another reader would have counted as opening it.
        let events = self.app.events_as(&id, client).await;
        FinishedRun { id, events }
    }

    /// Waits until the store holds the run's real end, not only its start.
    async fn saved(&self, id: &str) {
        for _ in 0..400 {
            if self.app.status(id).await["saved"] == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {id} was never saved");
    }
}

fn temp_db() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("forkline-test-{}", forkline::runs::RunId::random())).join("runs.sqlite3")
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const STALLED: usize = 200;

/// Opens `STALLED` event streams of a run and reads none of them; returns
/// them (to keep them open) and the growth of this process's RSS, in KiB.
async fn stall_subscribers(app: &TestApp, id: &str) -> (Vec<reqwest::Response>, i64) {
    let before = rss_kib();
    let mut open = Vec::new();
    for _ in 0..STALLED {
        let response = app.client.get(app.url(&format!("/api/runs/{id}/events"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    // Let every stream write until its socket is full.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    (open, rss_kib() as i64 - before as i64)
}

async fn two_hundred_stalled_viewers_of_a_saved_run_share_one_copy_of_it(kind: Kind) {
    let Some(db) = Db::new(kind, "stalled_viewers") else { return };
    bounded(async {
        // A client of its own, so that other tests' runs cannot matter.
        let fresh = || reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let first = spawn_on(&db, |_| {}).await;
        let run = first.run_as("10.0.0.1", "bench_emit", json!({"processes": 2, "events": 25_000})).await;
        run.assert_ok();
        let log_kib = run.events.iter().map(|e| e.to_string().len() as i64 + 1).sum::<i64>() / 1024;
        first.saved(&run.id).await;
        let live_app = TestApp { client: fresh(), ..first.app_clone() };
        let (open, live_growth) = stall_subscribers(&live_app, &run.id).await;
        drop(open);
        first.stop().await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        let second = spawn_on(&db, |_| {}).await;
        let loads = second.store.loads();
        let saved_app = TestApp { client: fresh(), ..second.app_clone() };
        let (open, saved_growth) = stall_subscribers(&saved_app, &run.id).await;
        println!(
            "{STALLED} stalled subscribers of a {log_kib} KiB log: RSS +{} MiB while it was in memory, +{} MiB restored from the store",
            live_growth / 1024,
            saved_growth / 1024
        );
        assert_eq!(second.store.loads() - loads, 1, "the store was asked once for all {STALLED} streams");
        // A copy each would be STALLED × the log (about 1.4 GiB here).
        assert!(
            saved_growth < live_growth.max(0) + 2 * log_kib + 64 * 1024,
            "stalled viewers of a saved run cost +{saved_growth} KiB, of a run in memory +{live_growth} KiB"
        );
        let status = second.app.status(&run.id).await;
        assert_eq!((status["outcome"].as_str(), status["events"].as_u64()), (Some("ok"), Some(run.events.len() as u64)));
        drop(open);
        second.stop().await;
        db.remove();
    })
    .await;
}

impl StoreApp {
    fn app_clone(&self) -> TestApp {
        TestApp { addr: self.app.addr, client: self.app.client.clone(), runs: self.app.runs.clone() }
    }
}

async fn a_flood_of_runs_from_one_client_leaves_another_clients_permalink(kind: Kind) {
    let Some(db) = Db::new(kind, "flood") else { return };
    bounded(async {
        // Nothing finished stays in memory: every lookup below is the store's.
        let app = spawn_on(&db, |c| {
            c.per_client_runs = 100;
            c.keep_finished_runs = 0;
            c.retention.max_runs = 5;
        })
        .await;
        let shared = app.run_as("10.0.0.1", "cpu_count", json!({})).await;
        shared.assert_ok();
        app.saved(&shared.id).await;
        let mut flood = Vec::new();
        for _ in 0..20 {
            flood.push(app.run_as("10.6.6.6", "cpu_count", json!({})).await.id);
        }
        app.saved(flood.last().unwrap()).await;
        assert_eq!(app.store.count().await.unwrap(), 5);
        let status = app.app.status(&shared.id).await;
        assert_eq!(status["outcome"], "ok", "the other client's run is still there: {status}");
        assert_eq!(app.app.events(&shared.id).await, shared.events);
        // Asked of the store itself: a run the test's own reads brought back
        // into memory may still be served from there until memory's budget
        // forgets it, which depends on timing, not on retention.
        assert!(app.store.load(&flood[0]).await.unwrap().is_none(), "the flood's oldest made room");
        app.stop().await;
        db.remove();
    })
    .await;
}

async fn a_run_in_flight_when_the_server_is_killed_answers_interrupted_after_a_restart(kind: Kind) {
    let Some(db) = Db::new(kind, "killed_mid_run") else { return };
    bounded(async {
        let db_arg = db.arg();
        let server = ServerProcess::start_on(&db_arg, &[]);
        let client = reqwest::Client::new();
        let created = server.create_run(&client, "process", json!({"numbers": [1, 2, 3], "delay_ms": 5000})).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let response = client.get(format!("{}{}", server.base, created["events_url"].as_str().unwrap())).send().await.unwrap();
        let mut stream = response.bytes_stream().eventsource();
        let mut pids = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let event: Value = serde_json::from_str(&message.data).unwrap();
            if event["kind"] == "proc.start" || event["kind"] == "run.start" {
                pids.push(event["pid"].as_i64().unwrap());
            }
            if pids.len() == 4 {
                break; // run.start (runner), MainProcess (runner), p1, p2
            }
        }
        assert_eq!(pids.len(), 4);
        // The row is written at admission without the run waiting for it; on
        // a loaded machine the store's thread may not have got to it yet.
        // Read the file as a second server would before pulling the plug.
        let reader = Store::open(&db.location(), Default::default()).await.expect("the store opens beside the server");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while reader.summary(&id).await.unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "the run was never noted in the store");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(reader);
        let mut server = server;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid()), nix::sys::signal::Signal::SIGKILL).unwrap();
        server.child.wait().unwrap();
        let left = wait_gone(&pids, Duration::from_secs(5)).await;
        assert!(left.is_empty(), "processes outlived the killed server: {left:?}");

        let restarted = ServerProcess::start_on(&db_arg, &[]);
        let status: Value =
            client.get(format!("{}/api/runs/{id}", restarted.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(status["status"], "finished", "{status}");
        assert_eq!(status["outcome"], "interrupted", "{status}");
        assert!(status["reason"].as_str().unwrap().contains("server stopped"), "{status}");
        let response = client.get(format!("{}/api/runs/{id}/events", restarted.base)).send().await.unwrap();
        let events: Vec<Value> = response
            .bytes_stream()
            .eventsource()
            .map(|m| serde_json::from_str::<Value>(&m.unwrap().data).unwrap())
            .collect()
            .await;
        let end = events.last().unwrap();
        assert_eq!((end["kind"].as_str(), end["outcome"].as_str()), (Some("run.end"), Some("interrupted")));
        assert_eq!(status["events"], events.len());
        drop(restarted);
        db.remove();
    })
    .await;
}

/// A full disk (SQLite) or a database turned read-only (PostgreSQL).
async fn a_failing_store_leaves_the_run_complete_but_unsaved_and_the_store_degraded(kind: Kind) {
    let Some(db) = Db::new(kind, "failing_store") else { return };
    let said = match kind {
        Kind::Sqlite => "full",
        Kind::Postgres => "read-only",
    };
    bounded(async {
        let app = spawn_on(&db, |_| {}).await;
        let health: Value = app.app.client.get(app.app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["store"], "ok");
        app.store.fail_writes(true).await.unwrap();
        let run = app.run_as("10.0.0.1", "bench_emit", json!({"processes": 2, "events": 2_000})).await;
        run.assert_ok();
        let mut status = app.app.status(&run.id).await;
        for _ in 0..200 {
            if !status["saved"].is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            status = app.app.status(&run.id).await;
        }
        assert_eq!(status["saved"], false, "{status}");
        assert!(status["not_saved_reason"].as_str().unwrap().contains(said), "{status}");
        assert_eq!(status["outcome"], "ok");
        let health: Value = app.app.client.get(app.app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert!(health["store"].as_str().unwrap().starts_with("degraded: "), "{health}");
        assert!(health["store"].as_str().unwrap().contains(said), "{health}");
        // Runs still run, and the next write that succeeds clears it.
        app.store.fail_writes(false).await.unwrap();
        let after = app.run_as("10.0.0.1", "cpu_count", json!({})).await;
        after.assert_ok();
        app.saved(&after.id).await;
        let health: Value = app.app.client.get(app.app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["store"], "ok", "{health}");
        app.stop().await;
        db.remove();
    })
    .await;
}
