//! A real forkline server on 127.0.0.1:0 for each test, and the few things
//! every test needs: start a run, read its whole event stream, check pids.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use forkline::runs::Runs;
use forkline::Config;
use futures_util::StreamExt;
use serde_json::Value;

/// Every async test is bounded so a hung child fails fast instead of hanging CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, future).await.expect("test timed out")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub runs: Arc<Runs>,
}

/// The forkline binary cargo built for these tests: the server.
pub fn forkline_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forkline"))
}

/// The product's runner, built with it (build.rs): the lesson's demos.
pub fn runner_exe() -> PathBuf {
    forkline::config::default_runner_exe()
}

/// The testkit's runner (crates/testkit), built with it: the lesson's demos
/// and the fault and benchmark ones, which most tests here use too.
pub fn testkit_runner_exe() -> PathBuf {
    forkline::config::testkit_runner_exe()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose runner is the testkit's; `adjust` may change anything.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::with_runner(testkit_runner_exe());
    config.listen = "127.0.0.1:0".parse().unwrap();
    // Tests start hundreds of runs from one address; the rate test sets its own.
    config.client_run_rate.per_minute = 0;
    // ... and up to a thousand streams at once; the connection tests set their own caps.
    config.max_connections_per_client = 100_000;
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let listening = forkline::http::listen::Listening::from_config(&config);
    let runs = Runs::new(Arc::new(config));
    tokio::spawn(forkline::http::listen::serve(listener, forkline::app(runs.clone()), listening, std::future::pending()));
    TestApp { addr, client: reqwest::Client::new(), runs }
}

/// One run, read to its end.
#[derive(Debug)]
pub struct FinishedRun {
    pub id: String,
    pub events: Vec<Value>,
}

impl FinishedRun {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["kind"] == kind)
    }

    pub fn end(&self) -> &Value {
        self.events.last().expect("a run has events")
    }

    pub fn result(&self) -> &Value {
        self.of_kind("result").next().expect("the run reported a result")
    }

    /// Texts of `print` events, in order.
    pub fn prints(&self) -> Vec<String> {
        self.of_kind("print").map(|e| e["text"].as_str().unwrap().to_owned()).collect()
    }

    /// Every pid that emitted an event, except the server's own (run.end,
    /// step.schedule), the kernel sampler included.
    pub fn all_pids(&self) -> Vec<i64> {
        let by_server = |e: &&Value| e["kind"] == "run.end" || e["kind"] == "step.schedule";
        let mut pids: Vec<i64> = self.events.iter().filter(|e| !by_server(e)).map(|e| e["pid"].as_i64().unwrap()).collect();
        pids.sort();
        pids.dedup();
        pids
    }

    /// The kernel sampler's pid, if it ran: the one emitter of
    /// `kernel.sample` that never said `proc.start` (docs/events.md).
    pub fn sampler_pid(&self) -> Option<i64> {
        let started: Vec<i64> = self.of_kind("proc.start").map(|e| e["pid"].as_i64().unwrap()).collect();
        self.of_kind("kernel.sample").map(|e| e["pid"].as_i64().unwrap()).find(|pid| !started.contains(pid))
    }

    /// The demo's processes: every pid that emitted an event, except the
    /// server's own and the kernel sampler's.
    pub fn pids(&self) -> Vec<i64> {
        let sampler = self.sampler_pid();
        self.all_pids().into_iter().filter(|&pid| Some(pid) != sampler).collect()
    }

    /// Asserts outcome ok, and says why not.
    pub fn assert_ok(&self) {
        assert_eq!(self.end()["kind"], "run.end");
        assert_eq!(self.end()["outcome"], "ok", "run failed: {}", self.end());
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    /// Starts a run and returns its id (asserting 201).
    pub async fn start(&self, demo: &str, params: Value) -> String {
        let response = self.post_json("/api/runs", &serde_json::json!({ "demo": demo, "params": params })).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// `DELETE`s a run as its creator: with its cancel token.
    pub async fn cancel(&self, id: &str) -> reqwest::Response {
        let run = self.runs.get(&forkline::runs::RunId::parse(id).expect("a run id")).expect("a run in memory");
        let token = run.cancel_token.reveal().to_owned();
        self.client.delete(self.url(&format!("/api/runs/{id}"))).bearer_auth(token).send().await.expect("request")
    }

    /// Reads a run's SSE stream to its end, checking the framing as it goes.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        self.events_after(id, None).await
    }

    pub async fn events_after(&self, id: &str, last_event_id: Option<u64>) -> Vec<Value> {
        let mut request = self.client.get(self.url(&format!("/api/runs/{id}/events")));
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        read_event_stream(request).await
    }

    /// The events as `client` reads them (behind a trusted proxy): a run's
    /// own client reading it does not count as opening it for retention.
    pub async fn events_as(&self, id: &str, client: &str) -> Vec<Value> {
        read_event_stream(self.client.get(self.url(&format!("/api/runs/{id}/events"))).header("x-forwarded-for", client)).await
    }

    pub async fn run(&self, demo: &str, params: Value) -> FinishedRun {
        let id = self.start(demo, params).await;
        let events = self.events(&id).await;
        FinishedRun { id, events }
    }

    pub async fn status(&self, id: &str) -> Value {
        self.client.get(self.url(&format!("/api/runs/{id}"))).send().await.unwrap().json().await.unwrap()
    }
}

/// True while a process with this pid exists in any state (zombies included).
pub fn pid_exists(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits up to `limit` for every pid to disappear and returns those still
/// there. Other tests make this test binary a child subreaper, so a process
/// orphaned by a server that died may come to us: it is reaped here, as init
/// would.
pub async fn wait_gone(pids: &[i64], limit: std::time::Duration) -> Vec<i64> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        for &p in pids {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
        let left: Vec<i64> = pids.iter().copied().filter(|&p| pid_exists(p)).collect();
        if left.is_empty() || std::time::Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts no process that took part in the run is left, zombie or alive
/// (the kernel sampler included).
pub fn assert_no_process_left(run: &FinishedRun) {
    for pid in run.all_pids() {
        assert!(!pid_exists(pid), "process {pid} of run {} is still there after run.end", run.id);
    }
}

/// The real forkline binary as its own process, on 127.0.0.1:0; killed on drop.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl ServerProcess {
    pub fn start(extra_args: &[&str]) -> Self {
        // An in-memory store: tests must not write the checkout's data/.
        Self::start_on(":memory:", extra_args)
    }

    /// The binary with its run store at `db` (a temporary file, or `:memory:`).
    pub fn start_on(db: &str, extra_args: &[&str]) -> Self {
        Self::start_command(std::process::Command::new(forkline_exe()), db, extra_args)
    }

    /// The binary on a given address (one a proxy was told of), with its
    /// run store at `db`.
    pub fn start_at(listen: std::net::SocketAddr, db: &str, extra_args: &[&str]) -> Self {
        Self::start_listening(std::process::Command::new(forkline_exe()), &listen.to_string(), db, extra_args)
    }

    /// Started with this many file descriptors, soft and hard (it cannot
    /// raise them).
    pub fn start_with_nofile(extra_args: &[&str], nofile: u64) -> Self {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(forkline_exe());
        // SAFETY: setrlimit is async-signal-safe and touches nothing else.
        unsafe {
            command.pre_exec(move || {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, nofile, nofile).map_err(std::io::Error::from)
            });
        }
        Self::start_command(command, ":memory:", extra_args)
    }

    fn start_command(command: std::process::Command, db: &str, extra_args: &[&str]) -> Self {
        Self::start_listening(command, "127.0.0.1:0", db, extra_args)
    }

    fn start_listening(mut command: std::process::Command, listen: &str, db: &str, extra_args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = command
            .args(["--listen", listen, "--db", db])
            .args(extra_args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start forkline");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("forkline listening on ").expect("listening line").to_owned();
        ServerProcess { child, base }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `POST /api/runs` to this server; returns the created run's JSON.
    pub async fn create_run(&self, client: &reqwest::Client, demo: &str, params: Value) -> Value {
        let response = client
            .post(format!("{}/api/runs", self.base))
            .json(&serde_json::json!({ "demo": demo, "params": params }))
            .send()
            .await
            .expect("create run");
        assert_eq!(response.status(), 201);
        response.json().await.expect("run JSON")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads an event stream to its end, skipping places in line.
async fn read_event_stream(request: reqwest::RequestBuilder) -> Vec<Value> {
    let response = request.send().await.expect("events request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream().eventsource();
    let mut events = Vec::new();
    while let Some(message) = stream.next().await {
        let message = message.expect("well-formed SSE");
        if message.event == "queue" {
            // A place in line, not an event of the run.
            continue;
        }
        let event: Value = serde_json::from_str(&message.data).expect("event JSON");
        assert_eq!(message.id, event["seq"].to_string(), "SSE id is the event's seq");
        events.push(event);
    }
    events
}
