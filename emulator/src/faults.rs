//! Fault injection: what can go wrong on a request, decided reproducibly from a seed.
//!
//! Every Graph request (and every `$batch` sub-request) takes the next number of a global
//! sequence; all its random draws come from a SplitMix64 stream keyed by `(seed, number)`.
//! The same seed and the same order of requests therefore give the same faults, whatever
//! the wall clock does. Concurrent clients change the arrival order, so only sequential
//! clients get byte-identical fault sequences.
//!
//! The per-tenant write limit is not random: it models Intune's documented budget
//! (`graph-api.md` §1.9: 100 writes / 20 s per app per tenant, 200 for all apps) with a
//! sliding window over the real (tokio) clock.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Faults and realism knobs, all configurable per run (and at run time through the handle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Fixed latency added to every Graph request, in milliseconds.
    pub latency_ms: u64,
    /// Extra latency drawn uniformly from `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Probability (0..=1) that a Graph request is answered 429 with `Retry-After`.
    pub rate_429: f64,
    /// Probability that a Graph request is answered 503 (`serviceNotAvailable`).
    pub rate_503: f64,
    /// Probability that the connection is closed without any answer.
    pub rate_drop: f64,
    /// Probability that the answer is delayed by `slow_ms` (to exceed a client's timeout).
    pub rate_slow: f64,
    /// Delay of a slow answer, in milliseconds.
    pub slow_ms: u64,
    /// `Retry-After` value sent with injected 429/503, in seconds.
    pub retry_after_secs: u64,
    /// Send `Retry-After` as an HTTP date instead of seconds.
    pub retry_after_date: bool,
    /// Intune-style write budget; `None` disables it.
    pub write_limit: Option<WriteLimit>,
    /// Probability that, before a Graph request to a tenant is served, an administrator
    /// edits one of that tenant's configuration policies "in the portal".
    pub rate_oob_edit: f64,
    /// Probability that a write (POST, PUT, PATCH, DELETE, or a `$batch` holding one) is
    /// committed and then its connection is closed without an answer: the client cannot
    /// know whether the write happened (the case exactly-once creates must handle).
    pub rate_drop_after_commit: f64,
    /// Probability that a write is committed and then answered
    /// `500 InternalServerError`, as Graph's gateway sometimes does after the service
    /// finished the change.
    pub rate_error_after_commit: f64,
}

impl Default for FaultConfig {
    /// No random faults, but Intune's real write limit: that is how Graph behaves.
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            rate_429: 0.0,
            rate_503: 0.0,
            rate_drop: 0.0,
            rate_slow: 0.0,
            slow_ms: 0,
            retry_after_secs: 2,
            retry_after_date: false,
            write_limit: Some(WriteLimit::INTUNE),
            rate_oob_edit: 0.0,
            rate_drop_after_commit: 0.0,
            rate_error_after_commit: 0.0,
        }
    }
}

impl FaultConfig {
    /// No faults at all, not even the write limit.
    pub fn none() -> Self {
        Self {
            write_limit: None,
            ..Self::default()
        }
    }
}

/// A sliding-window write budget per tenant, per app and for all apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteLimit {
    /// Writes allowed per app per tenant in one window.
    pub per_app: u32,
    /// Writes allowed per tenant (all apps together) in one window.
    pub per_tenant: u32,
    /// Window length in seconds.
    pub window_secs: u64,
}

impl WriteLimit {
    /// Intune device configuration v2 and RBAC: POST/PUT/PATCH/DELETE, 100 per 20 s per app
    /// per tenant, 200 per 20 s per tenant for all apps (`graph-api.md` §1.9).
    pub const INTUNE: WriteLimit = WriteLimit {
        per_app: 100,
        per_tenant: 200,
        window_secs: 20,
    };
}

/// SplitMix64: tiny, fast, and good enough for fault draws; keyed so that each request has
/// its own independent stream.
#[derive(Debug, Clone)]
pub struct FaultRng(u64);

impl FaultRng {
    /// The stream for request number `seq` of a run seeded with `seed`.
    pub fn for_request(seed: u64, seq: u64) -> Self {
        let mut r = FaultRng(seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (always draws, so later draws do not depend on `p`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Uniform in `0..=max`.
    pub fn upto(&mut self, max: u64) -> u64 {
        let v = self.next_u64();
        if max == 0 { 0 } else { v % (max + 1) }
    }
}

/// What the fault layer decided for one connection-level request (before routing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionFaults {
    /// Close the socket without answering.
    pub drop: bool,
    /// Total delay before answering.
    pub delay: Duration,
    /// Whether the delay includes a "slow response".
    pub slow: bool,
    /// For a write: commit it, then close the socket without answering.
    pub drop_after_commit: bool,
    /// For a write: commit it, then answer 500.
    pub error_after_commit: bool,
}

/// What the fault layer decided for one Graph operation (a request or a batch item).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OperationFault {
    /// Serve normally.
    #[default]
    None,
    /// Answer 429 `TooManyRequests`.
    Throttle,
    /// Answer 503 `serviceNotAvailable`.
    Unavailable,
}

/// Draws the connection-level faults for request `seq`.
pub fn connection_faults(cfg: &FaultConfig, seed: u64, seq: u64) -> ConnectionFaults {
    let mut rng = FaultRng::for_request(seed, seq);
    let drop = rng.chance(cfg.rate_drop);
    let slow = rng.chance(cfg.rate_slow);
    let jitter = rng.upto(cfg.jitter_ms);
    let mut ms = cfg.latency_ms + jitter;
    if slow {
        ms += cfg.slow_ms;
    }
    // Drawn after the older draws, so existing seeds keep their fault sequences.
    let drop_after_commit = rng.chance(cfg.rate_drop_after_commit);
    let error_after_commit = !drop_after_commit && rng.chance(cfg.rate_error_after_commit);
    ConnectionFaults {
        drop,
        delay: Duration::from_millis(ms),
        slow,
        drop_after_commit,
        error_after_commit,
    }
}

/// Draws the operation-level faults (429/503, out-of-band edit) for operation `seq`.
/// Uses a stream distinct from [`connection_faults`] so the two never correlate.
pub fn operation_faults(cfg: &FaultConfig, seed: u64, seq: u64) -> (OperationFault, bool, u64) {
    let mut rng = FaultRng::for_request(seed.rotate_left(17) ^ 0x5EED, seq);
    let throttle = rng.chance(cfg.rate_429);
    let unavailable = rng.chance(cfg.rate_503);
    let oob = rng.chance(cfg.rate_oob_edit);
    let pick = rng.next_u64();
    let fault = if throttle {
        OperationFault::Throttle
    } else if unavailable {
        OperationFault::Unavailable
    } else {
        OperationFault::None
    };
    (fault, oob, pick)
}

/// Sliding-window write counters, keyed by tenant and by (tenant, app).
#[derive(Debug, Default)]
pub struct WriteLimiter {
    per_tenant: HashMap<String, VecDeque<Instant>>,
    per_app: HashMap<(String, String), VecDeque<Instant>>,
}

impl WriteLimiter {
    /// Records a write if both budgets allow it; otherwise returns the seconds to wait
    /// until the oldest write of the exhausted window leaves it (at least 1).
    pub fn try_write(
        &mut self,
        limit: &WriteLimit,
        tenant: &str,
        app: &str,
        now: Instant,
    ) -> Result<(), u64> {
        let window = Duration::from_secs(limit.window_secs);
        let t = self.per_tenant.entry(tenant.to_string()).or_default();
        prune(t, now, window);
        let a = self
            .per_app
            .entry((tenant.to_string(), app.to_string()))
            .or_default();
        prune(a, now, window);
        let wait_for = |q: &VecDeque<Instant>| -> u64 {
            q.front()
                .map(|first| {
                    (*first + window)
                        .saturating_duration_since(now)
                        .as_secs_f64()
                        .ceil() as u64
                })
                .unwrap_or(1)
                .max(1)
        };
        if a.len() as u64 >= u64::from(limit.per_app) {
            return Err(wait_for(a));
        }
        let t = self.per_tenant.get_mut(tenant).expect("inserted above");
        if t.len() as u64 >= u64::from(limit.per_tenant) {
            return Err(wait_for(t));
        }
        t.push_back(now);
        self.per_app
            .get_mut(&(tenant.to_string(), app.to_string()))
            .expect("inserted above")
            .push_back(now);
        Ok(())
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while let Some(first) = q.front() {
        if now.saturating_duration_since(*first) >= window {
            q.pop_front();
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let cfg = FaultConfig {
            rate_429: 0.5,
            rate_drop: 0.3,
            jitter_ms: 10,
            ..FaultConfig::none()
        };
        let a: Vec<_> = (0..50)
            .map(|i| (connection_faults(&cfg, 7, i), operation_faults(&cfg, 7, i)))
            .collect();
        let b: Vec<_> = (0..50)
            .map(|i| (connection_faults(&cfg, 7, i), operation_faults(&cfg, 7, i)))
            .collect();
        assert_eq!(a, b);
        let throttled = a
            .iter()
            .filter(|x| x.1.0 == OperationFault::Throttle)
            .count();
        assert!(throttled > 5 && throttled < 45, "{throttled}");
    }

    #[test]
    fn write_limit_per_app_then_tenant() {
        let lim = WriteLimit {
            per_app: 2,
            per_tenant: 3,
            window_secs: 20,
        };
        let mut w = WriteLimiter::default();
        let now = Instant::now();
        assert!(w.try_write(&lim, "t", "a", now).is_ok());
        assert!(w.try_write(&lim, "t", "a", now).is_ok());
        assert_eq!(w.try_write(&lim, "t", "a", now), Err(20));
        assert!(w.try_write(&lim, "t", "b", now).is_ok());
        assert!(w.try_write(&lim, "t", "b", now).is_err());
        assert!(w.try_write(&lim, "u", "a", now).is_ok());
        assert!(
            w.try_write(&lim, "t", "a", now + Duration::from_secs(21))
                .is_ok()
        );
    }
}
