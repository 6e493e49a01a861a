//! Several instances behind one address, whole, on this machine: two
//! forkline binaries sharing one PostgreSQL database, behind a real nginx
//! running the repository's own `deploy/nginx/forkline.conf` (its addresses
//! swapped for loopback ports). A run started through the proxy, watched
//! live through it from a client the proxy otherwise sends to the other
//! instance; its permalink once its owner is stopped; no run lost while an
//! instance restarts; one run rate per client across both. Then the figures
//! docs/performance.md records: runs per second through the proxy with two
//! instances against one, and what the proxy adds to a live event's way.
//!
//! ```text
//! test ── HTTP ──▶ nginx (127.0.0.1:P) ─┬─ /api/runs/web1-…, /runs/web1-… ─▶ web1, else web2
//!                                       ├─ /api/runs/web2-…, /runs/web2-… ─▶ web2, else web1
//!                                       └─ everything else, round robin ───▶ web1, web2
//!                        web1, web2 ── one PostgreSQL database (the test's own cluster)
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// The whole test, restarts and figures included, is bounded by this.
const WHOLE_TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// A run's burst of the shared rate, small enough to spend here.
const BURST: u32 = 14;

/// The repository's nginx configuration: the one the README shows.
fn nginx_conf() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/forkline.conf")
}

/// One instance: its name, its address (fixed, the proxy knows it) and its process.
struct Instance {
    name: &'static str,
    addr: SocketAddr,
    db: String,
    server: Option<ServerProcess>,
}

impl Instance {
    fn start(name: &'static str, db: &str) -> Instance {
        let addr: SocketAddr = format!("127.0.0.1:{}", forkline_testservices::nginx::free_port()).parse().unwrap();
        let mut instance = Instance { name, addr, db: db.to_owned(), server: None };
        instance.restart();
        instance
    }

    fn restart(&mut self) {
        let burst = BURST.to_string();
        let args = ["--instance", self.name, "--trusted-proxy", "127.0.0.1", "--client-run-burst", &burst, "--client-runs-per-minute", "1"];
        self.server = Some(ServerProcess::start_at(self.addr, &self.db, &args));
    }

    /// SIGTERM, as a restart by a service manager does, and waits for it.
    fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid()), nix::sys::signal::Signal::SIGTERM).unwrap();
            server.child.wait().unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The owner a run id names.
fn owner(id: &str) -> &str {
    id.rsplit_once('-').map(|(owner, _)| owner).unwrap_or("")
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap();
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("GET {url}: {status} {body}"))
}

async fn create(client: &reqwest::Client, base: &str, demo: &str, params: Value) -> reqwest::Response {
    client.post(format!("{base}/api/runs")).json(&json!({ "demo": demo, "params": params })).send().await.expect("POST /api/runs")
}

async fn create_ok(client: &reqwest::Client, base: &str, demo: &str, params: Value) -> String {
    let response = create(client, base, demo, params).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {base}/api/runs: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Reads a run's stream to its end; each event with when it arrived.
async fn stream(client: &reqwest::Client, url: &str) -> Vec<(Value, Instant)> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let mut messages = response.bytes_stream().eventsource();
    let mut events = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("well-formed SSE through the proxy");
        if message.event == "queue" {
            continue;
        }
        events.push((serde_json::from_str(&message.data).unwrap(), Instant::now()));
    }
    events
}

fn prints(events: &[Value]) -> Vec<(i64, String)> {
    events.iter().filter(|e| e["kind"] == "print").map(|e| (e["pid"].as_i64().unwrap(), e["text"].as_str().unwrap().to_owned())).collect()
}

async fn wait_saved(client: &reqwest::Client, url: &str) -> Value {
    for _ in 0..400 {
        let status = get_json(client, url).await;
        if status["saved"] == true {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{url} was never saved");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_behind_nginx_serve_every_run_from_wherever_a_client_lands() {
    let test = "two_instances_behind_nginx";
    let db = match forkline_testservices::postgres::cluster().and_then(|c| c.database("instances")) {
        Ok(db) => db,
        Err(why) => return forkline_testservices::skip(test, &why),
    };
    let mut web = [Instance::start("web1", &db), Instance::start("web2", &db)];
    let nginx = match forkline_testservices::nginx::Nginx::start(&nginx_conf(), web[0].addr, web[1].addr) {
        Ok(nginx) => nginx,
        Err(why) => return forkline_testservices::skip(test, &why),
    };
    let proxy = nginx.base();
    let client = reqwest::Client::new();
    tokio::time::timeout(WHOLE_TEST_TIMEOUT, async {
        // Round robin: a client's requests reach both instances.
        let mut seen = BTreeSet::new();
        for _ in 0..4 {
            seen.insert(get_json(&client, &format!("{proxy}/healthz")).await["instance"].as_str().unwrap().to_owned());
        }
        assert_eq!(seen, BTreeSet::from(["web1".to_owned(), "web2".to_owned()]), "round robin reaches both");

        // A run started through the proxy, on whichever instance it chose.
        let id = create_ok(&client, &proxy, "process", json!({"numbers": [2, 3, 8, 9], "delay_ms": 150})).await;
        let owner_at = web.iter().position(|w| w.name == owner(&id)).expect("the id names one of the instances");
        let other_at = 1 - owner_at;
        // Watched through the proxy by a client that the proxy, for anything
        // else, sends to the other instance.
        let watcher = reqwest::Client::new();
        loop {
            let health = get_json(&watcher, &format!("{proxy}/healthz")).await;
            if health["instance"] == web[other_at].name {
                break;
            }
        }
        let events_url = format!("{proxy}/api/runs/{id}/events");
        let watching = tokio::spawn({
            let (watcher, events_url) = (watcher.clone(), events_url.clone());
            async move { stream(&watcher, &events_url).await }
        });
        // While it runs: live through the proxy; the other instance alone
        // knows only the note its owner wrote at the start.
        let live = loop {
            let status = get_json(&client, &format!("{proxy}/api/runs/{id}")).await;
            if status["status"] == "running" {
                break status;
            }
            assert_ne!(status["status"], "finished", "the run ended before it was seen running: {status}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(live["runner_pid"].as_i64().unwrap() > 0, "{live}");
        let elsewhere = get_json(&client, &web[other_at].url(&format!("/api/runs/{id}"))).await;
        assert_eq!(elsewhere["outcome"], "interrupted", "the other instance has only the run's note: {elsewhere}");
        let watched = watching.await.unwrap();
        let first_print = watched.iter().find(|(e, _)| e["kind"] == "print").map(|(_, at)| *at).unwrap();
        let ended = watched.last().unwrap().1;
        assert!(ended.duration_since(first_print) >= Duration::from_millis(300), "prints came as they happened, not at the end");
        let events: Vec<Value> = watched.into_iter().map(|(e, _)| e).collect();
        assert_eq!(events.last().unwrap()["kind"], "run.end");
        assert_eq!(events.last().unwrap()["outcome"], "ok", "{}", events.last().unwrap());
        let spawns: Vec<i64> = events.iter().filter(|e| e["kind"] == "proc.spawn").map(|e| e["child"].as_i64().unwrap()).collect();
        assert_eq!(spawns.len(), 2);
        let runner = events[0]["pid"].as_i64().unwrap();
        assert!(spawns.iter().all(|&p| p != runner) && spawns[0] != spawns[1], "two children of their own");
        let expected = [
            (spawns[0], "square 4"), (spawns[0], "square 9"), (spawns[0], "square 64"), (spawns[0], "square 81"),
            (spawns[1], "cube 8"), (spawns[1], "cube 27"), (spawns[1], "cube 512"), (spawns[1], "cube 729"),
            (runner, "Done!"),
        ];
        let got = prints(&events);
        assert_eq!(got.last(), Some(&(runner, "Done!".to_owned())), "the parent prints last, once both joined");
        let mut got = got;
        got.sort_by_key(|(pid, _)| [spawns[0], spawns[1], runner].iter().position(|p| p == pid));
        assert_eq!(got, expected.map(|(p, t)| (p, t.to_owned())), "each child printed the lesson's lines, in order");

        // Its owner stopped: the permalink, status and stream still answer,
        // from the other instance and the shared store, with the run's real
        // end (that instance did not keep the note it answered with above).
        let saved = wait_saved(&client, &format!("{proxy}/api/runs/{id}")).await;
        web[owner_at].stop();
        let status = get_json(&client, &format!("{proxy}/api/runs/{id}")).await;
        assert_eq!((status["outcome"].as_str(), status["events"].as_u64()), (Some("ok"), saved["events"].as_u64()), "{status}");
        let page = client.get(format!("{proxy}/runs/{id}")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains(&id), "the permalink page names the run");
        let replayed: Vec<Value> = stream(&client, &events_url).await.into_iter().map(|(e, _)| e).collect();
        assert_eq!(replayed, events, "the stream replays from the store exactly as it went live");

        // Runs keep starting while the owner is down, and after it is back;
        // then the other instance restarts with a run in flight.
        let mut started = Vec::new();
        for _ in 0..2 {
            started.push(create_ok(&client, &proxy, "cpu_count", json!({})).await);
        }
        web[owner_at].restart();
        let in_flight = create_ok(&client, &web[other_at].url(""), "process", json!({"numbers": [1, 2, 3], "delay_ms": 2000})).await;
        let restarting = {
            let other = &mut web[other_at];
            let pid = other.server.as_ref().unwrap().pid();
            tokio::time::sleep(Duration::from_millis(300)).await;
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).unwrap();
            other.server.take().unwrap()
        };
        // Through the proxy while that instance shuts down and is away.
        for _ in 0..4 {
            started.push(create_ok(&client, &proxy, "cpu_count", json!({})).await);
        }
        let mut restarting = restarting;
        restarting.child.wait().unwrap();
        web[other_at].restart();
        for _ in 0..2 {
            started.push(create_ok(&client, &proxy, "cpu_count", json!({})).await);
        }
        let owners: BTreeSet<&str> = started.iter().map(|id| owner(id)).collect();
        assert_eq!(owners.len(), 2, "new runs went to both instances: {started:?}");
        for id in &started {
            let events: Vec<Value> = stream(&client, &format!("{proxy}/api/runs/{id}/events")).await.into_iter().map(|(e, _)| e).collect();
            let end = events.last().unwrap();
            assert_eq!((end["kind"].as_str(), end["outcome"].as_str()), (Some("run.end"), Some("ok")), "run {id}: {end}");
            assert!(events.iter().any(|e| e["kind"] == "result"), "run {id} reported its CPUs");
            let status = wait_saved(&client, &format!("{proxy}/api/runs/{id}")).await;
            assert_eq!(status["outcome"], "ok", "{status}");
        }
        // The run in flight on the instance that restarted ended as cancelled,
        // saying why, and is there to be seen: not lost.
        let status = get_json(&client, &format!("{proxy}/api/runs/{in_flight}")).await;
        assert_eq!((status["status"].as_str(), status["outcome"].as_str()), (Some("finished"), Some("cancelled")), "{status}");
        assert!(status["reason"].as_str().unwrap().contains("shutting down"), "{status}");

        // Cancelled through the proxy, as its creator: the DELETE reaches the
        // instance whose processes it must kill.
        let response = create(&client, &proxy, "process", json!({"numbers": [1, 2], "delay_ms": 3000})).await;
        let created: Value = response.json().await.unwrap();
        let (long, token) = (created["id"].as_str().unwrap().to_owned(), created["cancel_token"].as_str().unwrap().to_owned());
        let cancel = client.delete(format!("{proxy}/api/runs/{long}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(cancel.status(), 202);
        let events: Vec<Value> = stream(&client, &format!("{proxy}/api/runs/{long}/events")).await.into_iter().map(|(e, _)| e).collect();
        assert_eq!(events.last().unwrap()["outcome"], "cancelled", "{}", events.last().unwrap());

        // One rate per client, whichever instance a request reaches: the
        // burst is spent across both, then every instance says too_fast.
        let mut accepted = started.len() + 3; // the first run, the one in flight, the cancelled one
        let refused = loop {
            let response = create(&client, &proxy, "cpu_count", json!({})).await;
            if response.status() == 429 {
                break response.json::<Value>().await.unwrap();
            }
            assert_eq!(response.status(), 201);
            accepted += 1;
            assert!(accepted <= BURST as usize + 1, "more runs than one burst were let through: a rate per instance");
            tokio::time::sleep(Duration::from_millis(30)).await;
        };
        assert_eq!(refused["error"]["code"], "too_fast", "{refused}");
        assert!(accepted >= BURST as usize - 1, "the burst was one burst: {accepted} of {BURST}");
        for instance in &web {
            let response = create(&client, &instance.url(""), "cpu_count", json!({})).await;
            assert_eq!(response.status(), 429, "{} too says too_fast", instance.name);
        }

        measure(&client, &nginx, &mut web).await;
    })
    .await
    .unwrap_or_else(|_| panic!("the test of several instances timed out; nginx said: {}", nginx.error_log()));
    drop(nginx);
}

/// The figures of docs/performance.md ("Several instances"), printed, never
/// asserted: runs per second through the proxy with two instances and with
/// one, and the time the proxy adds to an event between its instance and a
/// client.
async fn measure(_client: &reqwest::Client, nginx: &forkline_testservices::nginx::Nginx, web: &mut [Instance; 2]) {
    // The rate the test spent above would refuse these runs: the figures
    // come from instances without one.
    for instance in web.iter_mut() {
        instance.stop();
        instance.server = Some(ServerProcess::start_at(instance.addr, &instance.db, &["--instance", instance.name, "--trusted-proxy", "127.0.0.1", "--client-runs-per-minute", "0", "--per-client-runs", "64"]));
    }
    let proxy = nginx.base();
    let client = reqwest::Client::new();
    let two = runs_per_second(&client, &proxy).await;
    // The latency: one run read at once directly from its owner and through
    // the proxy, event by event.
    let mut added = Vec::new();
    // Events 25 ms apart, so each goes its way alone.
    for _ in 0..3 {
        let id = create_ok(&client, &proxy, "process", json!({"numbers": [1, 2, 3, 4, 5, 6, 7, 8], "delay_ms": 25})).await;
        let owner = web.iter().find(|w| w.name == owner(&id)).unwrap();
        let (direct_url, proxied_url) = (owner.url(&format!("/api/runs/{id}/events")), format!("{proxy}/api/runs/{id}/events"));
        let (direct, proxied) = tokio::join!(stream(&client, &direct_url), stream(&client, &proxied_url));
        assert_eq!(direct.len(), proxied.len());
        for ((d, at_d), (p, at_p)) in direct.iter().zip(&proxied) {
            assert_eq!(d["seq"], p["seq"]);
            // Signed: a proxied event may be read first when the direct reader's task was not yet scheduled.
            added.push(at_p.saturating_duration_since(*at_d).as_secs_f64() * 1e6 - at_d.saturating_duration_since(*at_p).as_secs_f64() * 1e6);
        }
    }
    added.sort_by(f64::total_cmp);
    let pick = |q: f64| added[((added.len() - 1) as f64 * q).round() as usize];
    web[1].stop();
    let one = runs_per_second(&client, &proxy).await;
    println!(
        "several instances (cpu_count, 8 clients at once, 2 CPUs shared by both instances and nginx): \
         {two:.1} runs/s through nginx with two instances, {one:.1} with one (×{:.2}); \
         a live event read through nginx and straight from its instance at once: {:+.0} µs median, {:+.0} µs p90 later through nginx ({} events)",
        two / one,
        pick(0.5),
        pick(0.9),
        added.len()
    );
}

/// Runs `cpu_count` through the proxy from 8 clients at once, each run read
/// to its end, for 80 runs; runs per second.
async fn runs_per_second(client: &reqwest::Client, proxy: &str) -> f64 {
    const CLIENTS: usize = 8;
    const RUNS: usize = 80;
    // Warm: spare runners and pools in place on every instance.
    for _ in 0..4 {
        let id = create_ok(client, proxy, "cpu_count", json!({})).await;
        stream(client, &format!("{proxy}/api/runs/{id}/events")).await;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, proxy) = (client.clone(), proxy.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..RUNS / CLIENTS {
                let id = create_ok(&client, &proxy, "cpu_count", json!({})).await;
                let events = stream(&client, &format!("{proxy}/api/runs/{id}/events")).await;
                assert_eq!(events.last().unwrap().0["outcome"], "ok");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    RUNS as f64 / started.elapsed().as_secs_f64()
}

/// Runs the binary as a deployment would, expecting it to refuse to start;
/// what it said on stderr.
fn refused_start(args: &[&str]) -> String {
    let mut child = std::process::Command::new(forkline_exe())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("FORKLINE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("forkline {args:?} did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!status.success(), "forkline {args:?} started: {said}");
    assert!(!said.contains("panicked"), "a clear message, not a panic: {said}");
    said
}

#[test]
fn a_bad_store_url_an_unreachable_database_or_a_taken_name_stops_the_start_saying_why() {
    let said = refused_start(&["--db", "postgres://forkline:secret@db.example:notaport/forkline"]);
    assert!(said.contains("is not a PostgreSQL URL") && !said.contains("secret"), "{said}");
    let said = refused_start(&["--db", "mysql://db.example/forkline"]);
    assert!(said.contains("only postgres://"), "{said}");
    let said = refused_start(&["--db", "postgres://127.0.0.1:1/forkline"]);
    assert!(said.contains("cannot use PostgreSQL at postgres://127.0.0.1:1/forkline"), "{said}");
    let said = refused_start(&["--instance", "Web_1"]);
    assert!(said.contains("is not an instance name"), "{said}");
    let db = match forkline_testservices::postgres::cluster().and_then(|c| c.database("taken_name")) {
        Ok(db) => db,
        Err(why) => return forkline_testservices::skip("a_taken_instance_name", &why),
    };
    let first = ServerProcess::start_on(&db, &["--instance", "web1"]);
    let said = refused_start(&["--db", &db, "--instance", "web1"]);
    assert!(said.contains("another forkline instance named \"web1\""), "{said}");
    drop(first);
}

#[test]
fn the_readme_shows_the_proxy_configuration_the_test_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shown: BTreeSet<&str> = readme.lines().map(str::trim).collect();
    for line in std::fs::read_to_string(nginx_conf()).unwrap().lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        assert!(shown.contains(line), "README, Running several instances, lacks the line {line:?} of deploy/nginx/forkline.conf");
    }
}
