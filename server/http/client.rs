//! Who is asking: the peer address, or the client a trusted proxy names.
//!
//! The per-client caps are keyed by this (an IPv4 address or IPv6 /64, see
//! [`ClientKey`]). `X-Forwarded-For` is believed only
//! when the peer is the configured proxy, and then only its last entry (the
//! address that proxy itself saw); anyone else could write anything there.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::runs::ClientKey;

pub struct ClientAddr(pub Option<ClientKey>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        let trusted = state.runs.config().trusted_proxy;
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|last| last.trim().parse::<IpAddr>().ok())
        };
        let ip = match (peer, trusted) {
            (Some(p), Some(proxy)) if p == proxy => forwarded().or(peer),
            _ => peer,
        };
        Ok(ClientAddr(ip.map(ClientKey::of)))
    }
}
