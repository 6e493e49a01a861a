//! The pages and the catalog JSON, through the router without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use forkline::runs::Runs;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::runner_exe;

async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let app = forkline::app(Runs::new(std::sync::Arc::new(forkline::Config::with_runner(runner_exe()))));
    let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn catalog_lists_every_demo_with_a_link() {
    let (status, _, html) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"href="/demos/process""#));
    assert!(html.contains("Process: start() and join()"));
    assert!(html.contains(r#"href="/demos/cpu_count""#));
}

#[tokio::test]
async fn demo_page_shows_the_python_program_and_loads_only_local_modules() {
    let (status, headers, html) = get("/demos/process").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("p1 = Process(target=calc_square, args=(arr,))"));
    assert!(html.contains(r#"<script type="module" src="/static/app.js"></script>"#));
    assert!(!html.contains("http://") && !html.contains("https://"), "no other host");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn api_demos_lists_parameters_with_defaults_and_bounds() {
    let (status, _, body) = get("/api/demos").await;
    assert_eq!(status, StatusCode::OK);
    let demos: serde_json::Value = serde_json::from_str(&body).unwrap();
    let process = demos.as_array().unwrap().iter().find(|d| d["name"] == "process").unwrap();
    let delay = process["params"].as_array().unwrap().iter().find(|p| p["name"] == "delay_ms").unwrap();
    assert_eq!(delay["type"], "int");
    assert_eq!(delay["default"], 500);
    assert_eq!(delay["min"], 0);
    assert_eq!(delay["max"], 5000);
    let numbers = process["params"].as_array().unwrap().iter().find(|p| p["name"] == "numbers").unwrap();
    assert_eq!(numbers["type"], "int_list");
    assert_eq!(numbers["default"], serde_json::json!([2, 3, 8, 9]));
    // The print events point at the program's print line.
    let print_line = process["source_lines"]["print"].as_u64().unwrap() as usize;
    assert_eq!(process["source"].as_str().unwrap().lines().nth(print_line - 1).map(str::trim), Some(r#"print("square "+str(n*n))"#));
}

#[tokio::test]
async fn healthz_answers() {
    let (status, _, body) = get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"ok\":true"));
}

/// A browser on localhost sends every cookie other local apps set there; a
/// big Cookie header must not cost a forkline page its answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_with_24_kib_of_cookies_is_answered() {
    let app = crate::helpers::spawn_app().await;
    let cookie = (0..6).map(|i| format!("app{i}={}", "x".repeat(4000))).collect::<Vec<_>>().join("; ");
    let response = app.client.get(app.url("/healthz")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_catalog_asks_each_lesson_question_with_a_check_the_page_knows() {
    let (status, _, text) = get("/api/demos").await;
    assert_eq!(status, StatusCode::OK);
    let demos: serde_json::Value = serde_json::from_str(&text).unwrap();
    let asked: Vec<&serde_json::Value> = demos.as_array().unwrap().iter().filter(|d| d.get("predict").is_some()).collect();
    let mut names: Vec<&str> = asked.iter().map(|d| d["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["fork", "gil", "lock", "pipe", "process", "threads"]);
    for demo in asked {
        let q = &demo["predict"];
        assert!(forkline::demos::predict::CHECK_KINDS.contains(&q["check"]["kind"].as_str().unwrap()), "{q}");
        let ids: std::collections::HashSet<&str> = q["choices"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), q["choices"].as_array().unwrap().len(), "{q}");
        assert!(!q["text"].as_str().unwrap().is_empty() && !q["why"].as_str().unwrap().is_empty());
    }
    let (status, _, _) = get("/embed/lock?predict=2").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, page) = get("/embed/lock?predict=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"data-predict="1""#));
}
