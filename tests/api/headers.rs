//! Security headers and CORS: who may frame the pages, who may call the API,
//! and that no response sets a cookie.

use serde_json::json;

use crate::helpers::*;

const COURSE: &str = "http://127.0.0.1:9";

fn html_attr<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let start = html.find(&format!(r#"{name}=""#))? + name.len() + 2;
    Some(&html[start..start + html[start..].find('"')?])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_html_response_carries_csp_nosniff_and_a_referrer_policy() {
    bounded(async {
        let app = spawn_app_with(|c| c.frame_ancestors = vec![COURSE.parse().unwrap()]).await;
        let run = app.run("cpu_count", json!({})).await;
        let pages = [
            "/".to_owned(),
            "/demos/process".into(),
            "/embed/process".into(),
            "/embed/process?delay_ms=99999".into(),
            format!("/runs/{}", run.id),
        ];
        for path in pages {
            let response = app.client.get(app.url(&path)).send().await.unwrap();
            let h = response.headers();
            assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert!(csp.contains(&format!("frame-ancestors 'self' {COURSE}")), "{path}: {csp}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert!(h.contains_key("referrer-policy"), "{path}");
            assert!(!h.contains_key("set-cookie"), "{path}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn frame_ancestors_default_to_self_only() {
    bounded(async {
        let app = spawn_app().await;
        let response = app.client.get(app.url("/embed/process")).send().await.unwrap();
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
    })
    .await;
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/api/runs"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_listed_origins_only_and_never_with_credentials() {
    bounded(async {
        let app = spawn_app_with(|c| c.frame_ancestors = vec![COURSE.parse().unwrap()]).await;
        let listed = preflight(&app, COURSE).await;
        assert_eq!(listed.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()), Some(COURSE), "{} {:?}", listed.status(), listed.headers());
        assert!(listed.headers().get("access-control-allow-methods").is_some_and(|m| m.to_str().unwrap().contains("POST")), "{:?}", listed.headers());
        assert!(!listed.headers().contains_key("access-control-allow-credentials"));

        let unlisted = preflight(&app, "http://evil.example").await;
        assert!(!unlisted.headers().contains_key("access-control-allow-origin"), "{:?}", unlisted.headers());

        // A simple GET from a listed origin is allowed too; pages get no CORS at all.
        let demos = app.client.get(app.url("/api/demos")).header("Origin", COURSE).send().await.unwrap();
        assert_eq!(demos.headers()["access-control-allow-origin"], COURSE);
        let page = app.client.get(app.url("/demos/process")).header("Origin", COURSE).send().await.unwrap();
        assert!(!page.headers().contains_key("access-control-allow-origin"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configured_origins_no_cross_origin_call_is_allowed() {
    bounded(async {
        let app = spawn_app().await;
        let response = preflight(&app, "http://127.0.0.1:9").await;
        assert!(!response.headers().contains_key("access-control-allow-origin"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_presets_parameters_and_settings_from_the_query() {
    bounded(async {
        let app = spawn_app_with(|c| c.frame_ancestors = vec![COURSE.parse().unwrap()]).await;
        let path = "/embed/process?numbers=2,3&delay_ms=200&autorun=1&theme=dark&panels=timeline,console";
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        let params = html_attr(&html, "data-params").unwrap().replace("&#34;", "\"").replace("&quot;", "\"");
        let params: serde_json::Value = serde_json::from_str(&params).unwrap();
        assert_eq!(params["numbers"], json!([2, 3]));
        assert_eq!(params["delay_ms"], 200);
        assert_eq!(html_attr(&html, "data-autorun"), Some("1"));
        assert_eq!(html_attr(&html, "data-theme"), Some("dark"));
        assert_eq!(html_attr(&html, "data-panels"), Some("timeline,console"));
        assert_eq!(html_attr(&html, "data-parent-origins"), Some(COURSE));
        assert!(!html.contains("site-header"), "no site chrome in a frame");
        assert!(html.contains(r#"src="/static/app.js""#));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_shows_a_bad_parameter_in_the_frame_with_422() {
    bounded(async {
        let app = spawn_app().await;
        for (query, message) in [
            ("delay_ms=99999", "delay_ms must be an integer from 0 to 5000"),
            ("numbers=2,x", "numbers must be a list of"),
            ("bogus=1", "unknown parameter"),
            ("theme=pink", "theme must be one of light, dark, auto"),
            ("panels=timeline,ads", "panels must be"),
        ] {
            let response = app.client.get(app.url(&format!("/embed/process?{query}"))).send().await.unwrap();
            assert_eq!(response.status(), 422, "{query}");
            let html = response.text().await.unwrap();
            assert!(html.contains(message) || html.contains(&message.replace('"', "&#34;")), "{query}: {html}");
            assert!(html.contains(r#"id="embed-error""#));
            assert!(!html.contains("/static/app.js"), "no demo runs with a bad parameter");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_loopback_a_request_naming_another_host_is_refused_before_anything_runs() {
    bounded(async {
        // DNS rebinding: a page at evil.example resolved to 127.0.0.1 talks to
        // this server with its own name in Host.
        let app = spawn_app().await;
        for path in ["/", "/api/demos", "/static/app.js", "/healthz"] {
            let response = app.client.get(app.url(path)).header("host", "evil.example").send().await.unwrap();
            assert_eq!(response.status(), 421, "{path}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "host_not_allowed");
        }
        let response = app.client.post(app.url("/api/runs")).header("host", "evil.example:8080").json(&json!({"demo": "cpu_count"})).send().await.unwrap();
        assert_eq!(response.status(), 421);
        assert_eq!(app.runs.active() + app.runs.waiting(), 0, "nothing was started");
        for host in ["localhost", &format!("localhost:{}", app.addr.port()), &app.addr.to_string(), "[::1]:1"] {
            let response = app.client.get(app.url("/healthz")).header("host", host).send().await.unwrap();
            assert_eq!(response.status(), 200, "{host}");
        }

        // A deployment names its hosts.
        let app = spawn_app_with(|c| c.allowed_hosts = Some(vec!["course.example".into()])).await;
        let named = app.client.get(app.url("/healthz")).header("host", "course.example").send().await.unwrap();
        assert_eq!(named.status(), 200);
        let other = app.client.get(app.url("/healthz")).header("host", "localhost").send().await.unwrap();
        assert_eq!(other.status(), 421);
    })
    .await;
}
