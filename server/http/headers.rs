//! The security headers that depend on configuration: who may frame the
//! pages (CSP `frame-ancestors`) and who may call the API (CORS).
//!
//! Both come from the same validated origin list, so an embedding course site
//! is named once. No credentials are ever allowed cross-origin: forkline sets
//! no cookies, and runs are reached by their unguessable ids alone.

use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Origin;

/// The page loads only from this server, runs no inline script, and may be
/// framed by this server plus the configured origins (`*`: anyone).
pub fn content_security_policy(frame_ancestors: &[Origin]) -> String {
    let ancestors = if frame_ancestors.iter().any(Origin::is_any) {
        "*".to_owned()
    } else {
        std::iter::once("'self'").chain(frame_ancestors.iter().map(Origin::as_str)).collect::<Vec<_>>().join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

/// CORS for `/api/*` only: the listed origins (or any, when `*` is listed),
/// never with credentials. An unlisted origin, or any path outside `/api/`,
/// gets no allow header at all. (Applied to the whole router, outside the
/// method fallbacks, so preflights are answered before routing says 405.)
pub fn cors(origins: &[Origin]) -> CorsLayer {
    let any = origins.iter().any(Origin::is_any);
    let listed: Vec<HeaderValue> = origins.iter().filter_map(|o| o.as_str().parse().ok()).collect();
    let allow = AllowOrigin::predicate(move |origin: &HeaderValue, request: &Parts| {
        request.uri.path().starts_with("/api/") && (any || listed.contains(origin))
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, HeaderName::from_static("last-event-id")])
        .expose_headers([header::LOCATION, header::RETRY_AFTER])
        .allow_credentials(false)
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_default_to_self_and_list_the_configured_origins() {
        assert!(content_security_policy(&[]).ends_with("frame-ancestors 'self'"));
        let course: Origin = "https://course.example".parse().unwrap();
        assert!(content_security_policy(&[course]).ends_with("frame-ancestors 'self' https://course.example"));
        assert!(content_security_policy(&["*".parse().unwrap()]).ends_with("frame-ancestors *"));
    }
}
