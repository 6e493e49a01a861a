//! Bad input gets a clear JSON error with the right status, and nothing runs.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json", "errors are JSON");
    let body: Value = response.json().await.expect("JSON error body");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body)
}

async fn post_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client.post(app.url("/api/runs")).header("content-type", "application/json").body(body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400() {
    bounded(async {
        let app = spawn_app().await;
        for body in ["{", "not json", "{\"demo\": }", ""] {
            let (status, err) = error_of(post_raw(&app, body).await).await;
            assert_eq!(status, 400, "{body:?}: {err}");
            assert_eq!(err["error"]["code"], "malformed_json");
        }
        assert_eq!(app.runs.active(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_demo_and_unknown_run_are_404() {
    bounded(async {
        let app = spawn_app().await;
        let (status, err) = error_of(app.post_json("/api/runs", &json!({"demo": "rm -rf /"})).await).await;
        assert_eq!(status, 404);
        assert_eq!(err["error"]["field"], "demo");

        for path in [
            "/api/runs/00000000000000000000000000000000",
            "/api/runs/not-an-id",
            "/api/runs/..%2F..%2Fetc%2Fpasswd/events",
            "/api/runs/00000000000000000000000000000000/events",
            "/demos/nope",
            "/no/such/page",
        ] {
            let (status, _) = error_of(app.client.get(app.url(path)).send().await.unwrap()).await;
            assert_eq!(status, 404, "{path}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_413() {
    bounded(async {
        let app = spawn_app().await;
        let huge = format!(r#"{{"demo":"process","params":{{"x":"{}"}}}}"#, "a".repeat(2_000_000));
        // By hand rather than with reqwest: the server answers from the
        // Content-Length and closes without reading the rest, so the
        // client's write may fail with a broken pipe before reqwest would
        // read the answer already waiting on the socket, as a browser does.
        let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let head = format!(
            "POST /api/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            huge.len()
        );
        let writer = tokio::spawn(async move {
            let _ = write.write_all(head.as_bytes()).await;
            let _ = write.write_all(huge.as_bytes()).await;
        });
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        writer.abort();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "errors are JSON: {head}");
        let err: Value = serde_json::from_str(body).expect("JSON error body");
        assert_eq!(err["error"]["code"], "body_too_large", "{err}");
        assert_eq!(app.runs.active(), 0, "nothing ran");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_bounds_and_unknown_parameters_are_422_naming_the_field() {
    bounded(async {
        let app = spawn_app().await;
        let cases = [
            (json!({"delay_ms": 5001}), "params.delay_ms", "from 0 to 5000"),
            (json!({"delay_ms": -1}), "params.delay_ms", "from 0 to 5000"),
            (json!({"delay_ms": "10"}), "params.delay_ms", "integer"),
            (json!({"numbers": []}), "params.numbers", "1 to 16 integers"),
            (json!({"numbers": (0..17).collect::<Vec<_>>()}), "params.numbers", "1 to 16 integers"),
            (json!({"numbers": [1, 1_000_000]}), "params.numbers", "from -1000 to 1000"),
            (json!({"shell": "; reboot"}), "params.shell", "unknown parameter"),
        ];
        for (params, field, says) in cases {
            let (status, err) = error_of(app.post_json("/api/runs", &json!({"demo": "process", "params": params})).await).await;
            assert_eq!(status, 422, "{params}: {err}");
            assert_eq!(err["error"]["field"], field, "{params}");
            let message = err["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{params}: {message}");
        }
        assert_eq!(app.runs.active(), 0, "nothing ran");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_body_shapes_are_refused_clearly() {
    bounded(async {
        let app = spawn_app().await;
        let (status, _) = error_of(app.post_json("/api/runs", &json!({"demo": "process", "extra": 1})).await).await;
        assert_eq!(status, 422);
        let (status, _) = error_of(app.post_json("/api/runs", &json!({"params": {}})).await).await;
        assert_eq!(status, 422);
        let (status, _) = error_of(app.post_json("/api/runs", &json!({"demo": "process", "params": [1]})).await).await;
        assert_eq!(status, 422);
        let response = app.client.post(app.url("/api/runs")).body(r#"{"demo":"process"}"#).send().await.unwrap();
        let (status, _) = error_of(response).await;
        assert_eq!(status, 415);
        let (status, _) = error_of(app.client.put(app.url("/api/runs")).send().await.unwrap()).await;
        assert_eq!(status, 405);
    })
    .await;
}
