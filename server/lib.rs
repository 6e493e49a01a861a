//! forkline: the Python multiprocessing lesson run as real processes and
//! threads, streamed live to a browser.
//!
//! `app()` builds the whole HTTP application without a socket, so tests can
//! drive it directly; `serve()` binds it and handles shutdown.
//!
//! Linux only: runs are built on Linux's process model (PDEATHSIG, a child
//! subreaper, memfd seals, `/proc`, membarrier, `sched_setattr`, user
//! namespaces for the sandbox), so another target is refused here, plainly,
//! rather than failing later on whichever call comes first.

#[cfg(not(target_os = "linux"))]
compile_error!("forkline runs only on Linux: its runs use PDEATHSIG, /proc, memfd seals and Linux namespaces (see README, Requirements)");

pub mod catalog;
pub mod config;
pub mod http;
pub mod replay;
pub mod runs;
pub mod store;
pub mod trace;

// The layers below, under the names the server's modules and the tests use:
// the shared vocabulary (crates/core) and what runs inside a run
// (crates/runner), which the server links for the demo catalog and to
// prepare the sandbox; runs themselves are the `forkline-runner` binary's.
pub use forkline_core::{clock, event, gates, handoff, ring, spec};
pub use forkline_runner::{demos, interpreters, primitives, sandbox};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use config::Config;
use runs::Runs;
use store::Store;

/// How long shutdown waits for open connections after every run has ended.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// The application: every route, over the given run table, with no store
/// (runs live only in memory).
pub fn app(runs: Arc<Runs>) -> Router {
    app_with_store(runs, None)
}

/// The application with a run store: every run that finishes is saved, and
/// runs no longer in memory are looked up there.
pub fn app_with_store(runs: Arc<Runs>, store: Option<Arc<Store>>) -> Router {
    if let Some(store) = &store {
        store.attach(&runs);
    }
    let exports = Arc::new(tokio::sync::Semaphore::new(runs.config().max_exports.max(1)));
    http::router(http::AppState { runs, store, exports, experiments: Default::default() })
}

/// Binds `config.listen`, prints the URL, and serves until SIGINT/SIGTERM.
/// On shutdown every run is cancelled (its processes killed, its stream
/// closed with `run.end`) before the process exits.
pub async fn serve(config: Config) -> std::io::Result<()> {
    match http::connections::raise_descriptor_limit() {
        Ok((was, now)) => tracing::info!(soft_was = was, soft = now, hard = now, "open file limit"),
        Err(e) => tracing::warn!("could not raise the open file limit: {e}"),
    }
    let listening = http::listen::Listening::from_config(&config);
    let limits = listening.connections.limits();
    tracing::info!(total = limits.total, per_client = limits.per_client, "connection caps");
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let store = Store::open(&config.store, config.retention).await.map_err(std::io::Error::other)?;
    store.claim_instance(&config.instance).await.map_err(std::io::Error::other)?;
    let runs = Runs::new(Arc::new(config));
    // On a worker thread, which lives as long as the runtime (PDEATHSIG).
    let prepare = runs.clone();
    tokio::spawn(async move { prepare.prepare_spare() });
    println!("forkline listening on http://{addr}");
    tracing::info!(%addr, instance = %runs.config().instance, "listening");

    let stop = runs.clone();
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let server = http::listen::serve(listener, app_with_store(runs, Some(store)), listening, async move {
        shutdown_signal().await;
        tracing::info!("shutting down: cancelling runs");
        stop.shutdown().await;
        let _ = drained_tx.send(());
    });
    // Graceful shutdown waits for open connections; bound that wait so a
    // stuck client can't keep the process alive.
    tokio::select! {
        _ = server => {}
        _ = async { let _ = drained_rx.await; tokio::time::sleep(SHUTDOWN_DRAIN).await } => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
