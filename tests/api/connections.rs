//! Connections a hostile client holds: timed out (headers, body, idleness),
//! capped per client and in all, and never able to starve another client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// Reads until the server closes; what it sent, and how long that took.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after {limit:?}; got {:?}", String::from_utf8_lossy(&seen)),
        }
    }
    (String::from_utf8_lossy(&seen).into_owned(), started.elapsed())
}

async fn raw(addr: SocketAddr, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream
}

/// A connection from another loopback address than the tests' 127.0.0.1.
async fn connect_from(ip: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{ip}:0").parse().unwrap())?;
    socket.connect(addr).await
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_headers_and_bodies_that_never_arrive_are_closed_in_time() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.header_timeout = Duration::from_secs(1);
            c.body_timeout = Duration::from_secs(1);
        })
        .await;
        // Headers without their final blank line.
        let mut stream = raw(app.addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await;
        let (_, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
        println!("unfinished headers closed after {took:?}");
        assert!(took >= Duration::from_millis(900), "not before the timeout: {took:?}");

        // A declared body that never comes, and a chunked one with no last chunk.
        let declared = "POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"demo\":";
        let chunked = "POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"demo\":\r\n";
        for request in [declared, chunked] {
            let mut stream = raw(app.addr, request).await;
            let (answer, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
            println!("stalled body answered and closed after {took:?}");
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
            assert!(answer.contains("body_timeout"), "{answer}");
        }
        assert_eq!(app.runs.active() + app.runs.waiting(), 0, "nothing was started");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_but_a_quiet_event_stream_is_not() {
    bounded(async {
        let app = spawn_app_with(|c| {
            c.idle_timeout = Duration::from_secs(2);
            c.header_timeout = Duration::from_secs(30);
        })
        .await;
        let mut stream = raw(app.addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        let (answer, took) = until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        println!("idle kept-alive connection closed after {took:?}");
        assert!(took >= Duration::from_millis(1900), "not before the idle timeout: {took:?}");

        // A run that prints nothing for 5 s: its stream is quiet but alive.
        let id = app.start("process", json!({"numbers": [1], "delay_ms": 5000})).await;
        let mut stream = raw(app.addr, &format!("GET /api/runs/{id}/events HTTP/1.1\r\nHost: localhost\r\n\r\n")).await;
        let (answer, _) = until_closed(&mut stream, Duration::from_secs(30)).await;
        assert!(answer.contains(r#""kind":"run.end","outcome":"ok""#), "the stream lasted to run.end: {answer}");
        assert!(answer.contains(": keep-alive"), "kept alive by comments: {answer}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_100_continue_with_a_body_over_the_limit_gets_413_at_once() {
    bounded(async {
        let app = spawn_app().await;
        let mut stream = raw(
            app.addr,
            "POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await;
        let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "no 100 Continue first: {answer}");
        assert!(answer.contains("body_too_large"), "{answer}");
    })
    .await;
}

/// The soft descriptor limit of this process, raised to the hard one.
fn raise_own_descriptor_limit() -> u64 {
    forkline::http::connections::raise_descriptor_limit().map_or(1024, |(_, now)| now)
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_slowloris_connections_from_one_address_do_not_starve_another() {
    bounded(async {
        let limit = raise_own_descriptor_limit();
        let attackers = 3_000usize.min(limit.saturating_sub(512) as usize);
        // The real binary, so its descriptors are its own.
        let server = ServerProcess::start(&["--header-timeout", "30"]);
        let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..attackers {
            match TcpStream::connect(addr).await {
                Ok(mut stream) => {
                    // A request head that never ends.
                    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-a: ").await;
                    held.push(stream);
                }
                Err(_) => refused += 1,
            }
        }
        // Let the server accept (and close the connections over the cap).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut open = 0;
        for stream in &mut held {
            let mut buf = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
                Err(_) => open += 1,           // nothing to read: still held by the server
                Ok(Ok(0)) | Ok(Err(_)) => {}   // closed by the server
                Ok(Ok(_)) => {}
            }
        }
        println!("{attackers} slowloris connections from 127.0.0.1: {open} held by the server, the rest closed ({refused} not connected)");
        assert!(open <= 256, "one client holds at most its cap: {open}");

        // Another client is answered at once.
        let mut worst = Duration::ZERO;
        for path in ["/healthz", "/api/runs"] {
            let started = Instant::now();
            let mut stream = connect_from("127.0.0.2", addr).await.unwrap();
            let request = if path == "/healthz" {
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned()
            } else {
                let body = r#"{"demo":"cpu_count"}"#;
                format!("POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            };
            stream.write_all(request.as_bytes()).await.unwrap();
            let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
            let took = started.elapsed();
            worst = worst.max(took);
            println!("{path} from 127.0.0.2 under the attack: {took:?}");
            assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 201"), "{path}: {answer}");
        }
        println!("worst answer to the other client: {worst:?}");
        drop(held);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_low_descriptor_limit_the_total_cap_keeps_the_server_answering() {
    bounded(async {
        raise_own_descriptor_limit();
        // 256 descriptors for the server: its cap is 128 connections.
        let server = ServerProcess::start_with_nofile(&[], 256);
        let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
        // From many addresses, so only the total cap stands in the way.
        let mut held = Vec::new();
        for i in 0..300 {
            let ip = format!("127.0.{}.{}", 1 + i / 200, 1 + i % 200);
            if let Ok(mut stream) = connect_from(&ip, addr).await {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n").await;
                held.push(stream);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Hanging ones time out in 10 s; a slot frees only when one closes.
        drop(held.drain(..10));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let mut stream = connect_from("127.9.9.9", addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
        let (answer, _) = until_closed(&mut stream, Duration::from_secs(10)).await;
        println!("/healthz with 290 half-open connections under a 256-descriptor limit: {:?}", started.elapsed());
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let created = server.create_run(&reqwest::Client::new(), "cpu_count", json!({})).await;
        assert!(created["id"].is_string(), "and a run still starts");
        drop(held);
    })
    .await;
}
