//! Exports under load: each streams (memory for a chunk, not for the run),
//! at most `--max-exports` are written at once, and the rest are told to
//! come back; every export that is written is whole.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .unwrap_or(0)
}

/// The largest run the lock demo makes: 8 workers × 1,000 locked updates.
async fn largest_lock_run(server: &ServerProcess, client: &reqwest::Client) -> (String, usize) {
    let created = server.create_run(client, "lock", json!({"iterations": 1000, "workers": 8, "use_lock": true})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let url = format!("{}{}", server.base, created["events_url"].as_str().unwrap());
    let text = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#""kind":"run.end""#));
    let events = text.lines().filter(|l| l.starts_with("data:")).count();
    (id, events)
}

/// 40 clients ask for an export at once; returns (written, refused, peak RSS growth in MiB, worst /healthz).
async fn forty_at_once(server: &ServerProcess, client: &reqwest::Client, path: &str, check: impl Fn(&[u8]) + Sync) -> (usize, usize, f64, Duration) {
    let pid = server.pid();
    let idle = rss_kib(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let (done, base, client) = (done.clone(), server.base.clone(), client.clone());
        tokio::spawn(async move {
            let (mut peak, mut worst) = (0u64, Duration::ZERO);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(rss_kib(pid));
                let started = Instant::now();
                let ok = client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200);
                assert!(ok, "/healthz answered during the exports");
                worst = worst.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (peak, worst)
        })
    };
    let url = format!("{}{path}", server.base);
    let answers = futures_util::future::join_all((0..40).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let retry = response.headers().get("retry-after").is_some();
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                body.extend_from_slice(&chunk.unwrap());
            }
            (status, retry, body)
        }
    }))
    .await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (peak, worst) = watch.await.unwrap();
    let (mut written, mut refused) = (0, 0);
    for (status, retry, body) in &answers {
        match status {
            200 => {
                check(body);
                written += 1;
            }
            429 => {
                assert!(retry, "a refused export says when to come back");
                let error: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(error["error"]["code"], "too_many_exports");
                refused += 1;
            }
            other => panic!("{path}: {other} {}", String::from_utf8_lossy(body)),
        }
    }
    (written, refused, peak.saturating_sub(idle) as f64 / 1024.0, worst)
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_concurrent_exports_of_the_largest_run_are_bounded_in_number_and_memory() {
    tokio::time::timeout(Duration::from_secs(120), async {
        // The default cap (8). With `--max-exports 40` added here, the figure
        // of streaming alone (in the README) is measured too; it doubles the time.
        let configs: Vec<(usize, Vec<&str>)> = match std::env::var("FORKLINE_EXPORTS_ALL_AT_ONCE") {
            Ok(_) => vec![(40, vec!["--max-exports", "40"]), (8, vec![])],
            Err(_) => vec![(8, vec![])],
        };
        for (max_exports, args) in configs {
            let server = ServerProcess::start(&args);
            let client = reqwest::Client::new();
            let (id, events) = largest_lock_run(&server, &client).await;
            println!("the largest lock run: {events} events");
            let jsonl = |body: &[u8]| assert_eq!(body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), events, "every event, once");
            let trace = |body: &[u8]| {
                let trace: Value = serde_json::from_slice(body).expect("a whole trace, valid JSON");
                forkline::trace::check(&trace).unwrap();
            };
            let replay = |body: &[u8]| {
                let html = String::from_utf8_lossy(body);
                assert!(html.trim_end().ends_with("</html>"), "the whole file");
                let start = html.find(r#"id="forkline-events">"#).unwrap() + r#"id="forkline-events">"#.len();
                let json = &html[start..start + html[start..].find("</script>").unwrap()];
                assert_eq!(serde_json::from_str::<Vec<Value>>(json).unwrap().len(), events);
            };
            // One of each first, so the figures are not the first export's warm-up.
            client.get(format!("{}/api/runs/{id}/trace.json", server.base)).send().await.unwrap().bytes().await.unwrap();
            for (what, check) in [("events.jsonl", &jsonl as &(dyn Fn(&[u8]) + Sync)), ("trace.json", &trace), ("replay.html", &replay)] {
                let (written, refused, grew_mib, worst) = forty_at_once(&server, &client, &format!("/api/runs/{id}/{what}"), check).await;
                println!(
                    "40 concurrent {what} with --max-exports {max_exports}: {written} written whole, {refused} refused (429); \
                     peak RSS {grew_mib:+.1} MiB over idle; worst /healthz {worst:?}"
                );
                assert_eq!(written + refused, 40);
                assert!(written >= 1 && written <= max_exports, "{written} written at most {max_exports} at once");
                assert!(grew_mib < 100.0, "{what}: RSS grew {grew_mib:.1} MiB");
            }
        }
    })
    .await
    .expect("bounded");
}
