//! How many connections the server holds open, per client and in all.
//!
//! Every open connection costs a file descriptor and its buffers, and the
//! process has a fixed number of descriptors: a client that opens thousands
//! (slowloris) would otherwise leave none for anyone else, nor for the runs'
//! own pipes. So each client (an IPv4 address or IPv6 /64, as the run caps
//! key them) may hold `per_client`, everybody together `total`, which stays
//! below the descriptor limit; past either, a connection is closed as soon
//! as it is accepted, and a warning says so (at most once a second).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runs::ClientKey;

/// The caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_client: usize,
}

impl ConnectionLimits {
    /// The total cap for a descriptor limit: a quarter of the descriptors
    /// (at least 128) is kept for runs, the store and the spare runner.
    pub fn total_for(nofile: u64) -> usize {
        let nofile = usize::try_from(nofile).unwrap_or(usize::MAX).min(1 << 20);
        nofile.saturating_sub((nofile / 4).max(128)).max(16)
    }
}

/// Which cap a refused connection hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapHit {
    Total,
    PerClient,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
    /// Refusals since the last warning, and when that was.
    refused: u64,
    warned_at: Option<Instant>,
}

pub struct Connections {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it gives its place back.
pub struct Held {
    connections: Arc<Connections>,
    client: ClientKey,
}

/// Warnings about refused connections, at most this often.
const WARN_EVERY: Duration = Duration::from_secs(1);

impl Connections {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Connections { limits, counts: Mutex::default() })
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Admits a connection from `peer`, or says which cap it hit.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Held, CapHit> {
        let client = ClientKey::of(peer);
        let mut counts = self.counts.lock().expect("connections lock");
        let mine = counts.per_client.get(&client).copied().unwrap_or(0);
        let hit = if counts.total >= self.limits.total {
            Some(CapHit::Total)
        } else if mine >= self.limits.per_client {
            Some(CapHit::PerClient)
        } else {
            None
        };
        if let Some(hit) = hit {
            counts.refused += 1;
            let due = counts.warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY);
            if due {
                let refused = std::mem::take(&mut counts.refused);
                counts.warned_at = Some(Instant::now());
                let open = counts.total;
                drop(counts);
                match hit {
                    CapHit::Total => tracing::warn!(
                        open, cap = self.limits.total, refused,
                        "connection cap reached: new connections are closed at once (--max-connections)"
                    ),
                    CapHit::PerClient => tracing::warn!(
                        %client, open = mine, cap = self.limits.per_client, refused,
                        "a client hit its connection cap: its new connections are closed at once (--max-connections-per-client)"
                    ),
                }
            }
            return Err(hit);
        }
        counts.total += 1;
        *counts.per_client.entry(client).or_default() += 1;
        Ok(Held { connections: self.clone(), client })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().expect("connections lock").total
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self.connections.counts.lock().expect("connections lock");
        counts.total -= 1;
        if let Some(n) = counts.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// Raises this process's soft descriptor limit to its hard limit (what a
/// server may hold without privilege) and returns (soft before, now).
pub fn raise_descriptor_limit() -> std::io::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((soft, hard))
}

/// This process's soft descriptor limit.
pub fn descriptor_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_everyone_are_capped_and_places_come_back() {
        let connections = Connections::new(ConnectionLimits { total: 3, per_client: 2 });
        let (a, b, c) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let a1 = connections.admit(a).unwrap();
        let _a2 = connections.admit(a).unwrap();
        assert_eq!(connections.admit(a).err(), Some(CapHit::PerClient));
        let _b1 = connections.admit(b).unwrap();
        assert_eq!(connections.admit(c).err(), Some(CapHit::Total));
        drop(a1);
        let _c1 = connections.admit(c).unwrap();
        assert_eq!(connections.open(), 3);
    }

    #[test]
    fn the_total_leaves_room_for_runs_below_the_descriptor_limit() {
        assert_eq!(ConnectionLimits::total_for(1024), 768);
        assert_eq!(ConnectionLimits::total_for(256), 128);
        assert!(ConnectionLimits::total_for(1 << 20) < 1 << 20);
    }
}
