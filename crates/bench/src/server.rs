//! The server under test: the real application on 127.0.0.1:0 inside the
//! bench process, configured so the benchmark itself is never refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use forkline::runs::Runs;
use forkline::Config;

use super::Options;

pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(options: &Options) -> std::io::Result<Server> {
        let mut config = Config::with_runner(options.runner.clone());
        config.listen = "127.0.0.1:0".parse().expect("loopback parses");
            // Every request comes from one loopback client, one run at a time.
        config.per_client_runs = 10_000;
        config.client_run_rate.per_minute = 0;
        config.max_connections_per_client = 100_000;
        config.run_timeout = Duration::from_secs(120);
        // A 1M-event log is ~100 MB: keep few, so memory figures stay honest.
        config.keep_finished_runs = 2;
        // The sandbox's interpreter is offered too, so an edited program and
        // the lesson's can be compared on the same one.
        if let forkline_runner::sandbox::Editing::On(_, python) = &config.editing {
            if !config.pythons.iter().any(|p| p.id == python.id) {
                config.pythons.push(python.clone());
            }
        }
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let listening = forkline::http::listen::Listening::from_config(&config);
        let runs = Runs::new(Arc::new(config));
        let task = tokio::spawn(forkline::http::listen::serve(listener, forkline::app(runs), listening, std::future::pending()));
        Ok(Server { addr, task })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
