//! A minimal HTTP/1.1 client for the benchmark: start a run, read its SSE
//! stream, probe `/healthz`.
//!
//! Hand-rolled on a TcpStream so the bench adds no HTTP client to the binary
//! and so the SSE reader can count frames with a SIMD substring search
//! instead of parsing every event: the client shares the machine with the
//! pipeline it measures, so it must be cheap.

use std::net::SocketAddr;
use std::time::Instant;

use memchr::memmem;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every event frame has exactly one of these (`id: N\ndata: {"seq":N,...}`);
/// a queue-position message (`event: queue`) has data but no seq.
const DATA: &[u8] = b"\ndata: {\"seq\":";
/// How a run that ended well ends.
const END_OK: &[u8] = br#""kind":"run.end","outcome":"ok""#;
/// Bytes of the stream's end kept to check `run.end` and the last id.
const TAIL: usize = 16 * 1024;

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// One request with `Connection: close`; returns the status and the body.
pub async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(format!("{head}{body}").as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let split = memmem::find(&response, b"\r\n\r\n").ok_or_else(|| invalid("no end of headers"))?;
    let status = std::str::from_utf8(&response[..split])
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status"))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// `POST /api/runs`; returns the run id.
pub async fn start_run(addr: SocketAddr, demo: &str, params: Value) -> std::io::Result<String> {
    start_run_with(addr, &serde_json::json!({ "demo": demo, "params": params })).await
}

/// `POST /api/runs` with a whole request body (an engine, say); returns the run id.
pub async fn start_run_with(addr: SocketAddr, request_body: &Value) -> std::io::Result<String> {
    Ok(start_cancellable(addr, request_body).await?.0)
}

/// `POST /api/runs`; returns the run id and the token that cancels it.
pub async fn start_cancellable(addr: SocketAddr, request_body: &Value) -> std::io::Result<(String, String)> {
    let (status, body) = request(addr, "POST", "/api/runs", Some(request_body)).await?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
    match (status, body["id"].as_str(), body["cancel_token"].as_str()) {
        (201, Some(id), Some(token)) => Ok((id.to_owned(), token.to_owned())),
        _ => Err(invalid(format!("POST /api/runs: {status} {body}"))),
    }
}

/// `DELETE /api/runs/{id}` as the run's creator; returns the status.
pub async fn cancel(addr: SocketAddr, id: &str, token: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!("DELETE /api/runs/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    std::str::from_utf8(&response)
        .ok()
        .and_then(|r| r.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status line"))
}

/// What a subscriber saw of one run's stream.
#[derive(Debug, Default)]
pub struct Seen {
    /// Event frames received.
    pub events: u64,
    /// When each watched pattern was first seen.
    pub marks: Vec<Option<Instant>>,
    /// The last `id:` of the stream: how many events the run's log had.
    pub last_id: u64,
    /// The run ended with `outcome: ok`.
    pub ok: bool,
    /// The whole stream, when asked for.
    pub body: Vec<u8>,
    /// The stream's last bytes (at least [`TAIL`]): where a run's result is
    /// when the whole stream was too big to keep.
    pub tail: Vec<u8>,
}

impl Seen {
    /// Every event of the run reached this subscriber, and the run went well.
    pub fn complete(&self) -> bool {
        self.ok && self.events == self.last_id && self.events > 0
    }

    /// The data of the run's last `result` event: the bench demo's own,
    /// after any result of a lesson demo it ran. Found in the tail unless the
    /// body was kept.
    pub fn result_data(&self) -> Option<Value> {
        self.events_of_kind("result").last().map(|event| event["data"].clone())
    }

    /// The texts of the run's `note` events (needs `keep_body`).
    pub fn notes(&self) -> Vec<String> {
        self.events_of_kind("note").iter().filter_map(|e| e["text"].as_str().map(str::to_owned)).collect()
    }

    fn events_of_kind(&self, kind: &str) -> Vec<Value> {
        let pattern = format!(r#""kind":"{kind}""#);
        let stream = if self.body.is_empty() { &self.tail } else { &self.body };
        stream
            .split(|&b| b == b'\n')
            .filter_map(|line| line.strip_prefix(b"data: "))
            .filter(|data| memmem::find(data, pattern.as_bytes()).is_some())
            .filter_map(|data| serde_json::from_slice::<Value>(data).ok())
            .collect()
    }
}

/// Opens a run's event stream and returns the connection once the request is sent.
pub async fn subscribe(addr: SocketAddr, id: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let head = format!("GET /api/runs/{id}/events HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    Ok(stream)
}

/// Reads a stream opened by [`subscribe`] to its end, counting frames and
/// noting when each of `marks` first appears.
pub async fn read_events(mut stream: TcpStream, marks: &[&[u8]], keep_body: bool) -> std::io::Result<Seen> {
    let data = memmem::Finder::new(DATA);
    let finders: Vec<_> = marks.iter().map(|m| memmem::Finder::new(*m)).collect();
    let longest = marks.iter().map(|m| m.len()).max().unwrap_or(0).max(DATA.len());
    let mut seen = Seen { marks: vec![None; marks.len()], ..Seen::default() };
    let mut buf = vec![0u8; 256 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        let chunk = &buf[..n];
        if first {
            first = false;
            if !chunk.starts_with(b"HTTP/1.1 200") {
                return Err(invalid(String::from_utf8_lossy(&chunk[..n.min(200)]).into_owned()));
            }
        }
        // A pattern cut by the read boundary shows up whole in carry + the
        // chunk's start; one wholly inside either part is counted elsewhere.
        let mut edge = std::mem::take(&mut carry);
        edge.extend_from_slice(&chunk[..n.min(longest - 1)]);
        seen.events += (data.find_iter(chunk).count() + data.find_iter(&edge).count()) as u64;
        for (mark, finder) in seen.marks.iter_mut().zip(&finders) {
            if mark.is_none() && (finder.find(&edge).is_some() || finder.find(chunk).is_some()) {
                *mark = Some(now);
            }
        }
        let keep_from = edge.len().saturating_sub(longest - 1);
        carry = if n >= longest - 1 { chunk[n - (longest - 1)..].to_vec() } else { edge[keep_from..].to_vec() };
        if keep_body {
            seen.body.extend_from_slice(chunk);
        }
        tail.extend_from_slice(chunk);
        if tail.len() > 2 * TAIL {
            tail.drain(..tail.len() - TAIL);
        }
    }
    seen.ok = memmem::find(&tail, END_OK).is_some();
    seen.last_id = memmem::rfind(&tail, b"id: ")
        .and_then(|i| tail[i + 4..].split(|&b| b == b'\n').next().and_then(|s| std::str::from_utf8(s).ok()?.trim().parse().ok()))
        .unwrap_or(0);
    seen.tail = tail;
    Ok(seen)
}

/// Starts a run, reads its stream to the end and returns its result's data
/// with what was seen; an error unless the run ended well with a result.
pub async fn run_result(addr: SocketAddr, demo: &str, params: Value, keep_body: bool) -> std::io::Result<(Value, Seen)> {
    let id = start_run(addr, demo, params).await?;
    let seen = read_events(subscribe(addr, &id).await?, &[], keep_body).await?;
    match seen.result_data().filter(|_| seen.ok) {
        Some(data) => Ok((data, seen)),
        None => Err(std::io::Error::other(format!("run {id} ended without a result (ok={})", seen.ok))),
    }
}
