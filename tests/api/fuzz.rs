//! Thousands of malformed bodies, parameters and paths: never a 5xx, never a
//! panic. Runs go through the real router; the runner is `/bin/true`, so an
//! accepted request costs nothing and the test is about the HTTP layer.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use forkline::runs::Runs;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The product's demos, but every run goes to /bin/true, which exits at
/// once: nothing a fuzzed request starts can do anything. Read once: asking
/// the runner for its demos is an exec, and the cases are thousands.
fn config() -> forkline::Config {
    static CONFIG: std::sync::OnceLock<forkline::Config> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut config = forkline::Config::with_runner(crate::helpers::runner_exe());
            config.runner_exe = "/bin/true".into();
            config.max_queued_runs = 100_000;
            config
        })
        .clone()
}

fn app() -> axum::Router {
    forkline::app(Runs::new(Arc::new(config())))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec!["; rm -rf /", "$(reboot)", "`id`", "../../etc/passwd", "a\u{0}b", "%s%n"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec!["demo", "params", "numbers", "delay_ms", "mode", "x", "command", ""])
                    .prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn request_body() -> impl Strategy<Value = Vec<u8>> {
    let demos = prop::sample::select(vec!["process", "cpu_count", "fault", "nope", "", "process/../x"]);
    prop_oneof![
        // Structurally plausible requests with hostile parameters.
        (demos, json_value()).prop_map(|(demo, params)| json!({"demo": demo, "params": params}).to_string().into_bytes()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("api".to_owned()),
        Just("runs".to_owned()),
        Just("demos".to_owned()),
        Just("events".to_owned()),
        Just("static".to_owned()),
        Just("..".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("0123456789abcdef0123456789abcdef".to_owned()),
        "[a-zA-Z0-9_%.~-]{0,12}",
    ];
    prop::collection::vec(segment, 0..6).prop_map(|segments| format!("/{}", segments.join("/")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_body_sent_to_post_runs_yields_a_server_error(body in request_body()) {
        let rt = runtime();
        let status = rt.block_on(async {
            let request = Request::post("/api/runs").header("content-type", "application/json").body(Body::from(body)).unwrap();
            app().oneshot(request).await.unwrap().status()
        });
        prop_assert!(!status.is_server_error(), "status {status}");
    }

    #[test]
    fn no_path_or_method_yields_a_server_error(path in path(), method in prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"])) {
        let rt = runtime();
        let status = rt.block_on(async {
            let Ok(request) = Request::builder().method(method).uri(&path).body(Body::empty()) else { return None };
            Some(app().oneshot(request).await.unwrap().status())
        });
        if let Some(status) = status {
            prop_assert!(!status.is_server_error(), "{method} {path}: status {status}");
        }
    }
}

#[tokio::test]
async fn shell_metacharacters_in_every_string_parameter_are_refused_and_nothing_runs() {
    let runs = Runs::new(Arc::new(config()));
    let app = forkline::app(runs.clone());
    let hostile = ["; touch /tmp/forkline-pwned", "$(touch /tmp/forkline-pwned)", "`touch /tmp/forkline-pwned`", "| sh", "&& id"];
    let demos: Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(
            app.clone().oneshot(Request::get("/api/demos").body(Body::empty()).unwrap()).await.unwrap().into_body(),
        )
        .await
        .unwrap()
        .to_bytes(),
    )
    .unwrap();
    let mut tried = 0;
    for demo in demos.as_array().unwrap() {
        for param in demo["params"].as_array().unwrap() {
            for text in hostile {
                let body = json!({"demo": demo["name"], "params": {param["name"].as_str().unwrap(): text}});
                let request = Request::post("/api/runs").header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
                let status = app.clone().oneshot(request).await.unwrap().status();
                assert_eq!(status, 422, "{body}");
                tried += 1;
            }
        }
    }
    assert!(tried > 0);
    assert_eq!(runs.active() + runs.waiting(), 0);
    assert!(!std::path::Path::new("/tmp/forkline-pwned").exists());
}
