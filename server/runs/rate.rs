//! How fast one client may start runs: a token bucket per client.
//!
//! The caps in [`super::admission`] bound how many runs a client holds at
//! once, but a client whose runs end quickly (`cpu_count` takes a few
//! milliseconds) could still start ten thousand a minute, and each finished
//! run is saved. The bucket allows a burst (a student pressing Run again and
//! again) and then a sustained rate; past it the client is told when to
//! come back.
//!
//! Behind a round-robin proxy one client's requests reach every instance,
//! and a bucket per instance would give it a rate per instance. So where the
//! store is shared, the buckets live there ([`SharedBuckets`], PostgreSQL),
//! with the same arithmetic ([`RunRate::take_one`]); the local buckets stay
//! for a store of one's own, and stand in while a shared store cannot be
//! reached (a client is then held to its rate on each instance).

use std::future::Future;
use std::pin::Pin;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ClientKey;

/// A burst, then a steady rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunRate {
    /// Runs a client may start back to back.
    pub burst: u32,
    /// Runs per minute once the burst is spent; 0 turns the limit off.
    pub per_minute: u32,
}

impl RunRate {
    fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    fn burst(&self) -> f64 {
        f64::from(self.burst.max(1))
    }

    /// A bucket that held `tokens` `elapsed` ago, refilled to now: what it
    /// holds after one token is taken if there is one, and whether there
    /// was (else how long until there is).
    pub fn take_one(&self, tokens: f64, elapsed: Duration) -> (f64, Result<(), Duration>) {
        let tokens = (tokens + elapsed.as_secs_f64() * self.per_second()).min(self.burst());
        if tokens >= 1.0 {
            (tokens - 1.0, Ok(()))
        } else {
            (tokens, Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second())))
        }
    }

    /// How long a bucket holding `tokens` takes to be full again: after
    /// that, forgetting it changes nothing.
    pub fn time_to_full(&self, tokens: f64) -> Duration {
        if self.per_minute == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(((self.burst() - tokens).max(0.0)) / self.per_second())
    }

    /// A new client's bucket: full.
    pub fn full(&self) -> f64 {
        self.burst()
    }
}

/// Buckets every instance sees: takes one run's token for `client`, or says
/// how long until one is there; `Err` when the buckets cannot be reached.
pub trait SharedBuckets: Send + Sync {
    #[allow(clippy::type_complexity)]
    fn take<'a>(&'a self, client: ClientKey, rate: RunRate) -> Pin<Box<dyn Future<Output = Result<Result<(), Duration>, String>> + Send + 'a>>;
}

/// Clients remembered at most; past it, those whose bucket has refilled
/// (who would be treated the same if forgotten) are forgotten.
const MAX_CLIENTS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    rate: RunRate,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: RunRate) -> Self {
        RateLimiter { rate, buckets: Mutex::default() }
    }

    pub fn rate(&self) -> RunRate {
        self.rate
    }

    /// Takes one run's token for `client`, or says how long until one is
    /// there. Runs with no known client are not limited.
    pub fn take(&self, client: Option<ClientKey>, now: Instant) -> Result<(), Duration> {
        let Some(client) = client else { return Ok(()) };
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate lock");
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            let rate = self.rate;
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < rate.time_to_full(b.tokens));
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: self.rate.full(), at: now });
        let (left, answer) = self.rate.take_one(bucket.tokens, now.saturating_duration_since(bucket.at));
        *bucket = Bucket { tokens: left, at: now };
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u8) -> Option<ClientKey> {
        Some(ClientKey::of(std::net::IpAddr::from([10, 0, 0, n])))
    }

    #[test]
    fn a_burst_then_the_steady_rate_then_a_time_to_come_back() {
        let limiter = RateLimiter::new(RunRate { burst: 3, per_minute: 60 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(client(1), t0).is_ok());
        }
        let wait = limiter.take(client(1), t0).unwrap_err();
        assert!((0.99..=1.01).contains(&wait.as_secs_f64()), "one token a second: {wait:?}");
        assert!(limiter.take(client(2), t0).is_ok(), "another client has its own bucket");
        assert!(limiter.take(client(1), t0 + Duration::from_millis(1000)).is_ok(), "a token came back");
        assert!(limiter.take(client(1), t0 + Duration::from_millis(1100)).is_err());
        assert!(limiter.take(None, t0).is_ok(), "no client, no bucket");
    }

    #[test]
    fn a_refilled_bucket_never_holds_more_than_the_burst() {
        let limiter = RateLimiter::new(RunRate { burst: 2, per_minute: 600 });
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3600);
        assert!(limiter.take(client(1), t0).is_ok());
        for _ in 0..2 {
            assert!(limiter.take(client(1), later).is_ok());
        }
        assert!(limiter.take(client(1), later).is_err());
    }

    #[test]
    fn zero_per_minute_is_no_limit() {
        let limiter = RateLimiter::new(RunRate { burst: 1, per_minute: 0 });
        let t0 = Instant::now();
        assert!((0..100).all(|_| limiter.take(client(1), t0).is_ok()));
    }
}
