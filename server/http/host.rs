//! Which `Host` a request may name: a defence against DNS rebinding.
//!
//! A page on another site can make a browser resolve its own name to
//! 127.0.0.1 and then talk to a forkline on the student's machine as if it
//! were that site (same origin, so no CORS stands in the way). Such requests
//! still carry the other site's name in `Host`. So when forkline listens on a
//! loopback address it answers only requests naming a loopback host; a
//! deployment under a real name lists its names in `--allowed-hosts`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::config::Config;

/// Who may be named, decided once from the configuration.
#[derive(Debug, Clone)]
pub enum AllowedHosts {
    /// Any name: listening on a public address with no list given.
    Any,
    /// Loopback names and addresses only.
    Loopback,
    /// Exactly these names (lowercase, no port).
    Listed(Vec<String>),
}

impl AllowedHosts {
    pub fn of(config: &Config) -> Self {
        match &config.allowed_hosts {
            Some(list) if list.iter().any(|h| h == "*") => AllowedHosts::Any,
            Some(list) => AllowedHosts::Listed(list.iter().map(|h| h.to_ascii_lowercase()).collect()),
            None if config.listen.ip().is_loopback() => AllowedHosts::Loopback,
            None => AllowedHosts::Any,
        }
    }

    /// Whether a `Host` value (name or address, with or without a port) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host);
        match self {
            AllowedHosts::Any => true,
            AllowedHosts::Loopback => is_loopback_name(&name),
            AllowedHosts::Listed(names) => names.contains(&name),
        }
    }
}

/// The name without its port, lowercase, IPv6 brackets kept off.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.parse::<IpAddr>().is_ok() {
        // A bare IPv6 address (not valid in Host, but unambiguous).
        host
    } else if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host })
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost`, a name under `.localhost` (RFC 6761 keeps them on this
/// machine), or a loopback address.
fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request whose `Host` is not allowed, before anything else runs.
pub async fn check(State(allowed): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    let named = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    let allowed = match &named {
        Some(host) => allowed.allows(host),
        // HTTP/1.0 without Host names nobody else either.
        None => true,
    };
    if !allowed {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "host_not_allowed",
            "this server does not answer for that host name (see --allowed-hosts)",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_loopback_only_loopback_names_are_answered() {
        let hosts = AllowedHosts::Loopback;
        for ok in ["localhost", "localhost:8080", "127.0.0.1:8080", "127.0.0.2", "[::1]:8080", "::1", "app.localhost:1", "LOCALHOST."] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in ["evil.example", "evil.example:8080", "localhost.evil.example", "10.0.0.1:8080", "[2001:db8::1]:80", ""] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn a_list_allows_exactly_its_names_with_any_port() {
        let hosts = AllowedHosts::Listed(vec!["course.example".into()]);
        assert!(hosts.allows("course.example"));
        assert!(hosts.allows("Course.Example:443"));
        assert!(!hosts.allows("localhost"));
        assert!(!hosts.allows("sub.course.example"));
    }
}
