//! Accepting connections: the router served over HTTP/1 by hyper, each
//! connection timed (headers, idleness) and capped (see [`super::connections`]),
//! with a graceful shutdown.
//!
//! Why not `axum::serve`: it hands each connection to hyper-util's
//! auto-detecting builder, which first reads a few bytes to tell HTTP/2 from
//! HTTP/1 and replays them. hyper's first read then returns only those bytes,
//! and its second finds the 8 KiB read buffer a little short and doubles it to
//! 16 KiB, which every open event stream keeps while it idles. Speaking
//! HTTP/1 straight away (all forkline serves: browsers speak HTTP/2 only over
//! TLS) reads the request in one go into 8 KiB. Measured with 1,000 idle
//! subscribers: 20.3 KiB of server memory each before, 13.3 KiB after; again
//! on the workspace's server, A against B (`--cfg forkline_without="listen_loop"`
//! builds `axum::serve` instead): 19.5 against 14.7 KiB (docs/performance.md).
//! Any kernel: nothing here depends on one.

// The A/B variant (below) leaves the loop's helpers unused.
#![cfg_attr(forkline_without = "listen_loop", allow(unused))]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::connections::{descriptor_limit, ConnectionLimits, Connections};

/// How connections are timed and capped.
#[derive(Clone)]
pub struct Listening {
    /// From a connection's start, or the end of its previous response, until
    /// a request's headers are complete (so also how long a kept-alive
    /// connection may sit between requests).
    pub header_timeout: Duration,
    /// A connection on which nothing is read or written for this long is
    /// closed, whatever it is doing (a body that stopped coming, a client
    /// that stopped reading). Event streams write a keep-alive comment every
    /// 15 s, so a stream whose client reads is never idle.
    pub idle_timeout: Duration,
    pub connections: Arc<Connections>,
}

impl Listening {
    /// The configured timeouts and caps; the total cap, unless set, from
    /// this process's descriptor limit as it is now.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let total = config.max_connections.unwrap_or_else(|| ConnectionLimits::total_for(descriptor_limit()));
        Listening {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            connections: Connections::new(ConnectionLimits { total, per_client: config.max_connections_per_client.max(1) }),
        }
    }
}

/// Bytes of one request's head hyper buffers at most: room for a browser
/// on localhost sending every other local app's cookies (tested with 24 KiB),
/// not hyper's default of about 400 KiB, which 1,000 unfinished requests
/// turn into 400 MiB.
const MAX_HEAD_BUFFER: usize = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish (the caller bounds that wait).
#[cfg(not(forkline_without = "listen_loop"))]
pub async fn serve(listener: TcpListener, router: Router, listening: Listening, shutdown: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(listening.header_timeout).max_buf_size(MAX_HEAD_BUFFER);
    let graceful = GracefulShutdown::new();
    let started = Instant::now();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over a cap: closed at once (dropping the stream), before hyper
        // allocates anything for it.
        let Ok(held) = listening.connections.admit(peer.ip()) else { continue };
        // Events are small writes that must go out now, not wait for an ACK.
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let activity = Arc::new(AtomicU64::new(0));
        let stream = Watched { inner: stream, activity: activity.clone(), started };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let idle_timeout = listening.idle_timeout;
        tokio::spawn(async move {
            let _held = held;
            tokio::select! {
                // A client that goes away mid-response is not an error here.
                _ = connection => {}
                _ = idle(&activity, started, idle_timeout) => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// `axum::serve` instead, for the bench's A/B run of what this module buys
/// (`--cfg forkline_without="listen_loop"`, docs/performance.md): no
/// timeouts, no caps, hyper-util's auto-detecting connections. Never for
/// people.
#[cfg(forkline_without = "listen_loop")]
pub async fn serve(listener: TcpListener, router: Router, _listening: Listening, shutdown: impl Future<Output = ()> + Send + 'static) {
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
}

/// Resolves once nothing was read or written for `limit`.
async fn idle(activity: &AtomicU64, started: Instant, limit: Duration) {
    let check = (limit / 4).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(check).await;
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        if started.elapsed().saturating_sub(last) >= limit {
            return;
        }
    }
}

/// A stream that notes when it last moved bytes, for the idle timeout.
struct Watched<S> {
    inner: S,
    activity: Arc<AtomicU64>,
    started: Instant,
}

impl<S> Watched<S> {
    fn moved(&self) {
        self.activity.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
