//! Every demo of issue 3's process-and-thread batch is in the catalog with a
//! page that shows the Python program it mirrors, through the router alone.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use forkline::runs::Runs;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::helpers::runner_exe;

async fn get(path: &str) -> (StatusCode, String) {
    let app = forkline::app(Runs::new(std::sync::Arc::new(forkline::Config::with_runner(runner_exe()))));
    let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn each_new_demo_is_listed_and_its_page_shows_its_program() {
    // (demo, a line of its Python program as the page shows it, HTML-escaped)
    for (name, program_line) in [
        ("threads", "t1 = threading.Thread(target = calc_square, args=(arr,))"),
        ("gil", "def countdown(n):"),
        ("fork", "x = os.fork()"),
        ("system", "status = os.system("),
        ("address_space", "x = ctypes.c_long(VALUE)"),
        ("join_zombie", "p.join()"),
    ] {
        let (status, catalog) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(catalog.contains(&format!(r#"href="/demos/{name}""#)), "{name} is in the catalog");
        // The page shows the CPython engine's program by default, and the
        // native one when asked: the same file (gil's own is a variant of it).
        let (status, html) = get(&format!("/demos/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(html.contains(program_line), "{name}'s page shows {program_line:?}");
        let (status, native) = get(&format!("/demos/{name}?engine=native")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(native.contains(program_line), "{name}'s native page shows {program_line:?}");
    }
}
